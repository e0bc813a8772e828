package runqyvault

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// decodeCases are inputs with what decodePayload makes of them: a payload,
// or an error (shape: one encoding/json would not have raised).
var decodeCases = []struct {
	name  string
	in    string
	want  payloadWire
	err   bool // an error is expected
	shape bool // ... and it is a shape error
}{
	// The library's own output.
	{name: "empty object", in: `{}`},
	{name: "library output", in: `{"git_token":"ghp_x","vaults":{"A":"1","B":"2"},"warnings":["w1","w2"]}`,
		want: payloadWire{GitToken: "ghp_x", Vaults: map[string]string{"A": "1", "B": "2"}, Warnings: []string{"w1", "w2"}}},
	{name: "vaults only", in: `{"vaults":{"K":"v"}}`, want: payloadWire{Vaults: map[string]string{"K": "v"}}},
	{name: "warnings only", in: `{"warnings":["git_token left out: bad"]}`, want: payloadWire{Warnings: []string{"git_token left out: bad"}}},
	{name: "empty vaults and warnings", in: `{"vaults":{},"warnings":[]}`, want: payloadWire{Vaults: map[string]string{}, Warnings: []string{}}},
	{name: "empty strings", in: `{"git_token":"","vaults":{"":""},"warnings":[""]}`,
		want: payloadWire{Vaults: map[string]string{"": ""}, Warnings: []string{""}}},

	// Member order and whitespace.
	{name: "reversed order", in: `{"warnings":["w"],"vaults":{"B":"2","A":"1"},"git_token":"t"}`,
		want: payloadWire{GitToken: "t", Vaults: map[string]string{"A": "1", "B": "2"}, Warnings: []string{"w"}}},
	{name: "middle first", in: `{"vaults":{"A":"1"},"git_token":"t","warnings":[]}`,
		want: payloadWire{GitToken: "t", Vaults: map[string]string{"A": "1"}, Warnings: []string{}}},
	{name: "whitespace everywhere", in: " \t\r\n{ \n\"git_token\" \t: \r\"t\" ,\n \"vaults\" : { \"A\" : \"1\" , \"B\":\"2\" } , \"warnings\" : [ \"w\" , \"x\" ] \n} \r\n\t",
		want: payloadWire{GitToken: "t", Vaults: map[string]string{"A": "1", "B": "2"}, Warnings: []string{"w", "x"}}},
	{name: "whitespace in empty containers", in: "{ \"vaults\" : { } , \"warnings\" : [\n] }", want: payloadWire{Vaults: map[string]string{}, Warnings: []string{}}},
	{name: "pretty", in: "{\n  \"vaults\": {\n    \"A\": \"1\"\n  }\n}", want: payloadWire{Vaults: map[string]string{"A": "1"}}},

	// Escapes and UTF-8.
	{name: "short escapes", in: `{"git_token":"\"\\\/\b\f\n\r\t"}`, want: payloadWire{GitToken: "\"\\/\b\f\n\r\t"}},
	{name: "escaped quote not the end", in: `{"vaults":{"K\"":"a\"b\\"}}`, want: payloadWire{Vaults: map[string]string{`K"`: `a"b\`}}},
	{name: "unicode escapes", in: `{"git_token":"\u0041\u00e9\u20AC\uffff\u0000"}`, want: payloadWire{GitToken: "Aé€\uffff\x00"}},
	{name: "surrogate pair", in: `{"git_token":"\ud83d\ude00"}`, want: payloadWire{GitToken: "😀"}},
	{name: "surrogate pair upper case", in: `{"git_token":"x\uD834\uDD1Ey"}`, want: payloadWire{GitToken: "x𝄞y"}},
	{name: "lone high surrogate", in: `{"git_token":"a\ud800b"}`, want: payloadWire{GitToken: "a\ufffdb"}},
	{name: "lone high surrogate at the end", in: `{"git_token":"\ud800"}`, want: payloadWire{GitToken: "\ufffd"}},
	{name: "lone low surrogate", in: `{"git_token":"\udc00\u0041"}`, want: payloadWire{GitToken: "\ufffdA"}},
	{name: "two high surrogates then a low", in: `{"git_token":"\ud800\ud83d\ude00"}`, want: payloadWire{GitToken: "\ufffd😀"}},
	{name: "high surrogate then a short escape", in: `{"git_token":"\ud800\n"}`, want: payloadWire{GitToken: "\ufffd\n"}},
	{name: "high surrogate then a non-surrogate", in: `{"git_token":"\ud800\u0041"}`, want: payloadWire{GitToken: "\ufffdA"}},
	{name: "raw UTF-8", in: `{"vaults":{"CLÉ":"héllo wörld 😀"}}`, want: payloadWire{Vaults: map[string]string{"CLÉ": "héllo wörld 😀"}}},
	{name: "invalid UTF-8", in: "{\"git_token\":\"a\xffb\xc3\"}", want: payloadWire{GitToken: "a\ufffdb\ufffd"}},
	{name: "invalid UTF-8 with an escape", in: "{\"git_token\":\"\xed\xa0\x80\\n\xff\"}", want: payloadWire{GitToken: "\ufffd\ufffd\ufffd\n\ufffd"}},
	{name: "escaped member name", in: `{"git\u005ftoken":"t","\u0076aults":{"A":"1"}}`, want: payloadWire{GitToken: "t", Vaults: map[string]string{"A": "1"}}},
	{name: "DEL and U+2028 raw", in: "{\"git_token\":\"\x7f\u2028\"}", want: payloadWire{GitToken: "\x7f\u2028"}},

	// Malformed: encoding/json rejects these too.
	{name: "empty input", in: ``, err: true},
	{name: "whitespace only", in: " \n", err: true},
	{name: "not an object", in: `[]`, err: true},
	{name: "a string", in: `"vaults"`, err: true},
	{name: "unclosed object", in: `{`, err: true},
	{name: "unclosed after member", in: `{"git_token":"t"`, err: true},
	{name: "trailing comma", in: `{"git_token":"t",}`, err: true},
	{name: "trailing comma in vaults", in: `{"vaults":{"A":"1",}}`, err: true},
	{name: "trailing comma in warnings", in: `{"warnings":["w",]}`, err: true},
	{name: "leading comma", in: `{,"git_token":"t"}`, err: true},
	{name: "missing colon", in: `{"git_token" "t"}`, err: true},
	{name: "missing comma", in: `{"git_token":"t" "vaults":{}}`, err: true},
	{name: "unquoted name", in: `{git_token:"t"}`, err: true},
	{name: "single quotes", in: `{'git_token':'t'}`, err: true},
	{name: "number token", in: `{"git_token":1}`, err: true},
	{name: "bool token", in: `{"git_token":true}`, err: true},
	{name: "object token", in: `{"git_token":{}}`, err: true},
	{name: "number value in vaults", in: `{"vaults":{"A":1}}`, err: true},
	{name: "array for vaults", in: `{"vaults":["A"]}`, err: true},
	{name: "object for warnings", in: `{"warnings":{"A":"1"}}`, err: true},
	{name: "number in warnings", in: `{"warnings":[1]}`, err: true},
	{name: "unterminated string", in: `{"git_token":"t}`, err: true},
	{name: "unterminated escape", in: `{"git_token":"t\`, err: true},
	{name: "raw newline in string", in: "{\"git_token\":\"a\nb\"}", err: true},
	{name: "raw tab in key", in: "{\"vaults\":{\"a\tb\":\"1\"}}", err: true},
	{name: "raw NUL in string", in: "{\"git_token\":\"a\x00b\"}", err: true},
	{name: "bad escape", in: `{"git_token":"\x41"}`, err: true},
	{name: "escaped single quote", in: `{"git_token":"\'"}`, err: true},
	{name: "short unicode escape", in: `{"git_token":"\u12"}`, err: true},
	{name: "bad hex digit", in: `{"git_token":"\u12g4"}`, err: true},
	{name: "bad second half of a pair", in: `{"git_token":"\ud800\u12"}`, err: true},
	{name: "upper-case U escape", in: `{"git_token":"\U0041"}`, err: true},
	{name: "data after the object", in: `{}x`, err: true},
	{name: "two objects", in: `{} {}`, err: true},
	{name: "vertical tab as whitespace", in: "{\v}", err: true},
	{name: "non-breaking space as whitespace", in: "{\u00a0}", err: true},
	{name: "byte order mark", in: "\ufeff{}", err: true},
	{name: "closing bracket mismatch", in: `{"warnings":["w"}}`, err: true},
	{name: "cut inside vaults", in: `{"vaults":{"A"`, err: true},
	{name: "cut after colon", in: `{"vaults":`, err: true},
	{name: "cut in warnings", in: `{"warnings":[`, err: true},

	// Valid JSON outside the payload's shape: encoding/json takes these.
	{name: "unknown member", in: `{"other":"x"}`, err: true, shape: true},
	{name: "unknown member among known", in: `{"vaults":{"A":"1"},"extra":[1,2]}`, err: true, shape: true},
	{name: "member name in another case", in: `{"Vaults":{"A":"1"}}`, err: true, shape: true},
	{name: "null object", in: `null`, err: true, shape: true},
	{name: "null git_token", in: `{"git_token":null}`, err: true, shape: true},
	{name: "null vaults", in: `{"vaults":null}`, err: true, shape: true},
	{name: "null vault value", in: `{"vaults":{"A":null}}`, err: true, shape: true},
	{name: "null warnings", in: `{"warnings":null}`, err: true, shape: true},
	{name: "null warning", in: `{"warnings":[null]}`, err: true, shape: true},
	{name: "repeated member", in: `{"git_token":"a","git_token":"b"}`, err: true, shape: true},
	{name: "repeated vaults", in: `{"vaults":{"A":"1"},"vaults":{"B":"2"}}`, err: true, shape: true},
	{name: "repeated key", in: `{"vaults":{"A":"1","A":"2"}}`, err: true, shape: true},
	{name: "repeated key once unescaped", in: `{"vaults":{"A":"1","\u0041":"2"}}`, err: true, shape: true},
}

func TestDecodePayloadCases(t *testing.T) {
	for _, c := range decodeCases {
		var got payloadWire
		err := decodePayload([]byte(c.in), &got)
		switch {
		case c.err && err == nil:
			t.Errorf("%s: no error, decoded %#v", c.name, got)
		case c.err:
			var pe *payloadError
			if !errors.As(err, &pe) || pe.Shape != c.shape {
				t.Errorf("%s: error %v, want shape=%v", c.name, err, c.shape)
			}
			if pe != nil && (pe.Offset < 0 || pe.Offset > len(c.in)) {
				t.Errorf("%s: error offset %d outside the input", c.name, pe.Offset)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case !reflect.DeepEqual(got, c.want):
			t.Errorf("%s: decoded %#v\nwant %#v", c.name, got, c.want)
		}
		checkAgreesWithEncodingJSON(t, []byte(c.in))
	}
}

// checkAgreesWithEncodingJSON checks decodePayload against encoding/json on
// in: what decodePayload decodes, encoding/json decodes the same, nil and
// empty alike; what encoding/json rejects, decodePayload rejects; and where
// decodePayload alone rejects, its error is a shape error.
func checkAgreesWithEncodingJSON(t *testing.T, in []byte) {
	t.Helper()
	var got, want payloadWire
	err := decodePayload(in, &got)
	wantErr := json.Unmarshal(in, &want)
	var pe *payloadError
	if err != nil && !errors.As(err, &pe) {
		t.Fatalf("%q: error %v is not a *payloadError", in, err)
	}
	switch {
	case err == nil && wantErr != nil:
		t.Fatalf("%q: decoded %#v, encoding/json says %v", in, got, wantErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("%q: decoded %#v\nencoding/json %#v", in, got, want)
	case err != nil && wantErr == nil && !pe.Shape:
		t.Fatalf("%q: %v, but encoding/json decodes it to %#v", in, err, want)
	}
	// (A shape error on invalid JSON is fine: it stops the decoder before it
	// has seen the rest.)
	if err != nil && (pe.Offset < 0 || pe.Offset > len(in)) {
		t.Fatalf("%q: error offset %d outside the input", in, pe.Offset)
	}
}

// randomString is a string of runes picked to exercise escaping: quotes,
// backslashes, control characters, non-ASCII, 4-byte runes, U+2028,
// U+FFFD, and now and then a byte of invalid UTF-8.
func randomString(r *rand.Rand) string {
	pool := []string{"a", "Z", "0", "_", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x00", "\x01", "\x1f", "\x7f",
		"é", "€", "😀", "𝄞", "\u2028", "\u2029", "\ufffd", "\uffff", "<", ">", "&", "\xff", "\xed\xa0\x80"}
	var b strings.Builder
	for n := r.Intn(12); n > 0; n-- {
		b.WriteString(pool[r.Intn(len(pool))])
	}
	return b.String()
}

// randomPayload is a payload as the library could write it (members in any
// order, whitespace anywhere), written by hand so that escapes vary too.
func randomPayload(r *rand.Rand) []byte {
	ws := func() string { return []string{"", "", "", " ", "\n", "\t", "\r\n  "}[r.Intn(7)] }
	str := func(s string) string {
		var b strings.Builder
		b.WriteByte('"')
		for _, c := range []byte(s) {
			switch {
			case c == '"' || c == '\\':
				if r.Intn(2) == 0 {
					b.WriteByte('\\')
					b.WriteByte(c)
				} else {
					fmt.Fprintf(&b, `\u%04x`, c)
				}
			case c < 0x20:
				if esc, ok := map[byte]string{'\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}[c]; ok && r.Intn(2) == 0 {
					b.WriteString(esc)
				} else {
					fmt.Fprintf(&b, `\u%04X`, c)
				}
			case c == '/' && r.Intn(2) == 0:
				b.WriteString(`\/`)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		out := b.String()
		// Now and then a rune as a \u escape (a surrogate pair beyond the BMP).
		if r.Intn(4) == 0 {
			var e strings.Builder
			e.WriteByte('"')
			for _, c := range s {
				if c == utf8.RuneError {
					e.WriteString(`\ufffd`)
				} else if c >= 0x10000 {
					c -= 0x10000
					fmt.Fprintf(&e, `\u%04x\u%04x`, 0xd800+(c>>10), 0xdc00+(c&0x3ff))
				} else {
					fmt.Fprintf(&e, `\u%04x`, c)
				}
			}
			e.WriteByte('"')
			out = e.String()
		}
		return out
	}
	var members []string
	if r.Intn(2) == 0 {
		members = append(members, str("git_token")+ws()+":"+ws()+str(randomString(r)))
	}
	if r.Intn(4) != 0 {
		var entries []string
		seen := map[string]bool{}
		for n := r.Intn(6); n > 0; n-- {
			k := randomString(r)
			if decoded := string([]rune(k)); seen[decoded] { // invalid UTF-8 as JSON decodes it
				continue
			} else {
				seen[decoded] = true
			}
			entries = append(entries, ws()+str(k)+ws()+":"+ws()+str(randomString(r))+ws())
		}
		members = append(members, str("vaults")+ws()+":"+ws()+"{"+ws()+strings.Join(entries, ",")+ws()+"}")
	}
	if r.Intn(3) == 0 {
		var ws2 []string
		for n := r.Intn(3); n > 0; n-- {
			ws2 = append(ws2, ws()+str(randomString(r))+ws())
		}
		members = append(members, str("warnings")+ws()+":"+ws()+"["+ws()+strings.Join(ws2, ",")+ws()+"]")
	}
	r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	for i := range members {
		members[i] = ws() + members[i] + ws()
	}
	return []byte(ws() + "{" + strings.Join(members, ",") + "}" + ws())
}

// Random payloads, escaped every which way, decode as encoding/json decodes
// them; so do their mutations (a byte changed, dropped or doubled; cut
// short), or both reject them.
func TestDecodePayloadAgreesWithEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	mutations := 0
	for i := 0; i < 20000; i++ {
		in := randomPayload(r)
		var got payloadWire
		if err := decodePayload(in, &got); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		checkAgreesWithEncodingJSON(t, in)
		for m := 0; m < 4 && len(in) > 0; m++ {
			mut := bytes.Clone(in)
			at := r.Intn(len(mut))
			switch r.Intn(5) {
			case 0:
				mut[at] = []byte(`{}[]":,\ nu0aZ` + "\x00\x1f\xff")[r.Intn(17)]
			case 1:
				mut = append(mut[:at], mut[at+1:]...)
			case 2:
				mut = append(mut[:at+1], mut[at:]...)
			case 3:
				mut = mut[:at]
			case 4:
				mut[at] ^= 1 << r.Intn(8)
			}
			checkAgreesWithEncodingJSON(t, mut)
			mutations++
		}
	}
	t.Logf("20000 payloads, %d mutations", mutations)
}

// FuzzDecodePayload: go test -run '^$' -fuzz FuzzDecodePayload -fuzztime 60s .
func FuzzDecodePayload(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.in))
	}
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 20; i++ {
		f.Add(randomPayload(r))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkAgreesWithEncodingJSON(t, in)
	})
}

// Values that need escaping, through the library: RegistrationPayload
// decodes what RegistrationPayloadJSON returns as encoding/json does.
func TestRegistrationPayloadDecodesEscapes(t *testing.T) {
	s := openA(t, "escapes.db")
	must(t, s.CreateVault("app", ""))
	must(t, s.CreateVault("more", ""))
	values := map[string]string{
		"QUOTE":     `say "hi"`,
		"BACKSLASH": `C:\path\to\file`,
		"SLASH":     "https://example.com/a/b",
		"CONTROLS":  "line1\nline2\r\n\ttab\b\f\x01\x1f\x7f",
		"UNICODE":   "héllo wörld € 😀 𝄞 \u2028\u2029 \ufffd",
		"HTML":      "<script>&amp;</script>",
		"EMPTYISH":  " ",
	}
	for k, v := range values {
		must(t, s.Set("app", k, v, true))
	}
	must(t, s.Set("more", "TOKEN", "tok\"en\\\n😀", true))
	p, err := s.RegistrationPayload([]string{"app", "more"}, "vault://more/TOKEN")
	must(t, err)
	raw, err := s.RegistrationPayloadJSON([]string{"app", "more"}, "vault://more/TOKEN")
	must(t, err)
	var want Payload
	must(t, json.Unmarshal(raw, &want))
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("RegistrationPayload = %#v\nencoding/json of %s = %#v", *p, raw, want)
	}
	for k, v := range values {
		if p.Vaults[k] != v {
			t.Errorf("%s = %q, want %q", k, p.Vaults[k], v)
		}
	}
	if p.GitToken != "tok\"en\\\n😀" || p.Vaults["TOKEN"] != p.GitToken {
		t.Errorf("git token %q", p.GitToken)
	}
	// And with a warning.
	p, err = s.RegistrationPayload([]string{"app"}, "vault://more/\"MISSING\"")
	must(t, err)
	raw, err = s.RegistrationPayloadJSON([]string{"app"}, "vault://more/\"MISSING\"")
	must(t, err)
	want = Payload{}
	must(t, json.Unmarshal(raw, &want))
	if len(p.Warnings) != 1 || !reflect.DeepEqual(*p, want) {
		t.Fatalf("RegistrationPayload = %#v\nencoding/json of %s = %#v", *p, raw, want)
	}
}

// unquote writes into a buffer of unquotedSize, which never grows, so that
// appending never moves a half-decoded secret and leaves the old copy in
// freed memory; on error it zeroes what it wrote.
func TestUnquoteNeverGrowsItsBuffer(t *testing.T) {
	for _, raw := range []string{`a\"b`, `\\\\\\`, `\u00e9\u20ac\ud83d\ude00\ud800`, "\xff\xff\xff", "\xed\xa0\x80\\n", "é\\t\xc3", `\/\b\f\n\r\t`} {
		d := payloadDecoder{data: []byte(`"` + raw + `"`), pos: len(raw) + 2}
		size := unquotedSize([]byte(raw))
		if want := len(raw) * map[bool]int{true: 1, false: 3}[utf8.ValidString(raw)]; size != want {
			t.Errorf("%q: unquotedSize = %d, want %d", raw, size, want)
		}
		b, err := d.unquote(make([]byte, 0, size), []byte(raw))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if cap(b) != size || len(b) > size {
			t.Errorf("%q: decoded into %d of %d bytes, want a buffer of %d never grown", raw, len(b), cap(b), size)
		}
	}
	raw := `secret\u00e9\q`
	buf := make([]byte, 0, unquotedSize([]byte(raw)))
	d := payloadDecoder{data: []byte(`"` + raw + `"`), pos: len(raw) + 2}
	if _, err := d.unquote(buf, []byte(raw)); err == nil {
		t.Fatal("a bad escape decoded")
	}
	if all := buf[:cap(buf)]; bytes.Count(all, []byte{0}) != len(all) {
		t.Fatalf("unquote left %q behind after an error", all)
	}
}

// On error, the strings decoded so far are wiped (their bytes live in the
// decoder's arena), and the payload is left empty.
func TestDecodePayloadWipesOnError(t *testing.T) {
	for _, in := range []string{
		`{"git_token":"ghp_secret","vaults":{"K":"sk-secret","E":"esc\"aped"},"warnings":[1]}`,
		`{"vaults":{"K":"sk-secret","K":"sk-other"}}`,
		`{"git_token":"ghp_secret"}x`,
	} {
		d := payloadDecoder{data: []byte(in), arena: make([]byte, 0, len(in))}
		p := payloadWire{GitToken: "before"}
		if err := d.decode(&p); err == nil {
			t.Fatalf("%s: no error", in)
		}
		if !reflect.DeepEqual(p, payloadWire{}) {
			t.Errorf("%s: left %#v", in, p)
		}
		if len(d.arena) == 0 {
			t.Errorf("%s: nothing went into the arena", in)
		}
		if all := d.arena[:cap(d.arena)]; bytes.Count(all, []byte{0}) != len(all) {
			t.Errorf("%s: the arena holds %q after an error", in, all)
		}
	}
}

// stopBytes and scanString, which read 8 bytes at a time, against a byte at
// a time: every byte value in every lane, then random words mixing the
// bytes that matter.
func TestScanStringMatchesByteByByte(t *testing.T) {
	stop := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	check := func(data []byte) {
		t.Helper()
		wantStop, wantHigh := len(data), false
		for i, c := range data {
			if stop(c) {
				wantStop = i
				break
			}
			wantHigh = wantHigh || c >= 0x80
		}
		for from := 0; from <= len(data); from++ {
			got, high := scanString(data, from)
			want, wHigh := len(data), false
			for i := from; i < len(data); i++ {
				if stop(data[i]) {
					want = i
					break
				}
				wHigh = wHigh || data[i] >= 0x80
			}
			if got != want || high != wHigh {
				t.Fatalf("scanString(%q, %d) = %d, %v; want %d, %v", data, from, got, high, want, wHigh)
			}
		}
		if got, high := scanString(data, 0); got != wantStop || high != wantHigh {
			t.Fatalf("scanString(%q, 0) = %d, %v", data, got, high)
		}
		if len(data) == 8 {
			m := stopBytes(binary.LittleEndian.Uint64(data))
			for i, c := range data {
				if (m>>(8*i+7)&1 == 1) != stop(c) || m>>(8*i)&0x7f != 0 {
					t.Fatalf("stopBytes(%q) = %016x", data, m)
				}
			}
		}
	}
	for c := 0; c < 256; c++ {
		for lane := 0; lane < 8; lane++ {
			word := []byte("abcdefgh")
			word[lane] = byte(c)
			check(word)
		}
	}
	r := rand.New(rand.NewSource(3))
	pick := []byte{'a', '"', '\\', 0, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xa2, 0xdc, 0xff, '!', '#', '[', ']', 'A' ^ 0x80}
	for n := 0; n < 20000; n++ {
		data := make([]byte, r.Intn(20))
		for i := range data {
			if r.Intn(3) == 0 {
				data[i] = pick[r.Intn(len(pick))]
			} else {
				data[i] = byte('a' + r.Intn(26))
			}
		}
		check(data)
	}
}
