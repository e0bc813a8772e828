package runqyvault

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// decodePayload decodes the library's registration payload JSON (SPEC §7
// plus "warnings") into p, in place of encoding/json, which took about as
// long as the whole library call on a payload of a few dozen entries.
//
// It reads one fixed shape, strictly: an object whose members, in any order
// and each at most once, are "git_token" (a string), "vaults" (an object of
// strings, each key at most once) and "warnings" (an array of strings);
// whitespace as JSON allows it; every string escape, \uXXXX surrogate pairs
// included. Strings decode exactly as encoding/json decodes them: a lone
// surrogate escape or a byte of invalid UTF-8 becomes U+FFFD. Whatever
// encoding/json rejects it rejects too, and whatever it accepts it decodes to
// the same payloadWire.
//
// It rejects some JSON that encoding/json would take, all of it outside what
// the library writes: a member other than the three (encoding/json skips
// unknown members and matches names case-insensitively; skipping would need a
// general value skipper, and taking "Vaults" for "vaults" is the kind of
// leniency that hides a mismatch between this package and the library it
// links; both are built from one tree, so a new member comes with a change
// here), null in place of a value, and a repeated member or vault key. Such
// an error is a payloadError with Shape set.
//
// Malformed input gives an error, never a panic; the error names the offset
// and what was expected, never input text (which may be a secret).
//
// The strings copy out of data, which the caller may wipe afterwards, into a
// single allocation: one per payload instead of one per string, which was
// the larger part of the decoder's time. On error p is left empty and that
// allocation zeroed, so the secrets decoded before the error do not linger
// there (a string that did not fit it, only ever one with invalid UTF-8,
// which the library never writes, has its own allocation and is not).
func decodePayload(data []byte, p *payloadWire) error {
	d := payloadDecoder{data: data, arena: make([]byte, 0, len(data))}
	return d.decode(p)
}

// decode is decodePayload with d made.
func (d *payloadDecoder) decode(p *payloadWire) error {
	*p = payloadWire{}
	if err := d.payload(p); err != nil {
		*p = payloadWire{} // nothing refers to the arena any more
		clear(d.arena[:cap(d.arena)])
		return err
	}
	return nil
}

func (d *payloadDecoder) payload(p *payloadWire) error {
	d.space()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return d.valueError("an object")
	}
	d.pos++
	var seen payloadMember // the members read so far
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
	} else {
		for {
			d.space()
			start := d.pos
			name, err := d.memberName()
			if err != nil {
				return err
			}
			if err := d.colon(); err != nil {
				return err
			}
			if name == memberOther {
				return d.shapeError(start, "a member other than git_token, vaults and warnings")
			}
			if seen&name != 0 {
				return d.shapeError(start, "a repeated member")
			}
			seen |= name
			switch name {
			case memberGitToken:
				p.GitToken, err = d.stringValue()
			case memberVaults:
				p.Vaults, err = d.vaults()
			case memberWarnings:
				p.Warnings, err = d.warnings()
			}
			if err != nil {
				return err
			}
			done, err := d.next('}')
			if err != nil {
				return err
			}
			if done {
				break
			}
		}
	}
	d.space()
	if d.pos != len(d.data) {
		return d.syntaxError("the end of the input after the object")
	}
	return nil
}

// payloadError is decodePayload's error.
type payloadError struct {
	Offset int    // where in the input
	What   string // what was expected or found there
	// Shape says the input broke the payload's shape, not JSON's syntax
	// (encoding/json might have taken it): an unknown or repeated member, a
	// repeated vault key, a null.
	Shape bool
}

func (e *payloadError) Error() string {
	if e.Shape {
		return "runqy-vault: the library's payload JSON has " + e.What + " at offset " + strconv.Itoa(e.Offset)
	}
	return "runqy-vault: the library's payload JSON is malformed: expected " + e.What + " at offset " + strconv.Itoa(e.Offset)
}

// payloadMember is a member of the payload object, as a bit of a set.
type payloadMember uint8

const (
	memberOther    payloadMember = 0
	memberGitToken payloadMember = 1 << iota
	memberVaults
	memberWarnings
)

type payloadDecoder struct {
	data []byte
	pos  int
	// arena holds the bytes of the strings decoded so far, which are views
	// of it: bytes are only ever appended, within its capacity, and never
	// change once a string refers to them. Its capacity, len(data), holds
	// every string of valid UTF-8 (none is longer decoded than written);
	// one that does not fit gets an allocation of its own.
	arena []byte
}

func (d *payloadDecoder) syntaxError(what string) error {
	return &payloadError{Offset: d.pos, What: what}
}

func (d *payloadDecoder) shapeError(at int, what string) error {
	return &payloadError{Offset: at, What: what, Shape: true}
}

// valueError is the error for a value that is not the one expected: a shape
// error for a null (valid JSON), a syntax error otherwise.
func (d *payloadDecoder) valueError(what string) error {
	if len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "null" {
		return d.shapeError(d.pos, "null where it expects "+what)
	}
	return d.syntaxError(what)
}

// space skips JSON whitespace.
func (d *payloadDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// colon reads the ':' after a member name, whitespace around it included.
func (d *payloadDecoder) colon() error {
	d.space()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return d.syntaxError("':'")
	}
	d.pos++
	d.space()
	return nil
}

// next reads what follows a member or an element, whitespace first: ','
// (done is false) or closing (done is true).
func (d *payloadDecoder) next(closing byte) (done bool, err error) {
	d.space()
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ',':
			d.pos++
			return false, nil
		case closing:
			d.pos++
			return true, nil
		}
	}
	return false, d.syntaxError("',' or '" + string(closing) + "'")
}

// memberName reads a member name of the top-level object.
func (d *payloadDecoder) memberName() (payloadMember, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return memberOther, d.syntaxError("a member name")
	}
	raw, plain, err := d.span()
	if err != nil {
		return memberOther, err
	}
	if !plain {
		if raw, err = d.unquote(make([]byte, 0, unquotedSize(raw)), raw); err != nil {
			return memberOther, err
		}
	}
	switch string(raw) { // compared without a copy
	case "git_token":
		return memberGitToken, nil
	case "vaults":
		return memberVaults, nil
	case "warnings":
		return memberWarnings, nil
	}
	return memberOther, nil
}

// stringValue reads a string value.
func (d *payloadDecoder) stringValue() (string, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return "", d.valueError("a string")
	}
	raw, plain, err := d.span()
	if err != nil {
		return "", err
	}
	if plain {
		return d.keep(raw), nil
	}
	size := unquotedSize(raw)
	free := d.arena[len(d.arena):]
	inArena := cap(free) >= size
	if !inArena {
		free = make([]byte, 0, size)
	}
	b, err := d.unquote(free[:0], raw)
	if err != nil {
		return "", err
	}
	if inArena {
		d.arena = d.arena[:len(d.arena)+len(b)]
	}
	if len(b) == 0 {
		return "", nil
	}
	return unsafe.String(&b[0], len(b)), nil
}

// keep copies b into the arena and returns it as a string.
func (d *payloadDecoder) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(d.arena)-len(d.arena) < len(b) {
		return string(b) // after a string of invalid UTF-8 took more room
	}
	n := len(d.arena)
	d.arena = append(d.arena, b...)
	return unsafe.String(&d.arena[n], len(b))
}

// vaultEntry is a key and value of "vaults", before they go into the map.
type vaultEntry struct{ key, value string }

// vaults reads the object of "vaults". Its entries are gathered first so
// that the map is made at its final size.
func (d *payloadDecoder) vaults() (map[string]string, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, d.valueError("an object")
	}
	d.pos++
	var local [32]vaultEntry
	entries := local[:0]
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
	} else {
		for {
			d.space()
			if d.pos >= len(d.data) || d.data[d.pos] != '"' {
				return nil, d.syntaxError("a vault key")
			}
			key, err := d.stringValue()
			if err != nil {
				return nil, err
			}
			if err := d.colon(); err != nil {
				return nil, err
			}
			value, err := d.stringValue()
			if err != nil {
				return nil, err
			}
			entries = append(entries, vaultEntry{key, value})
			done, err := d.next('}')
			if err != nil {
				return nil, err
			}
			if done {
				break
			}
		}
	}
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		n := len(m)
		m[e.key] = e.value
		if len(m) == n {
			return nil, d.shapeError(d.pos, "a repeated key in vaults")
		}
	}
	return m, nil
}

// warnings reads the array of "warnings".
func (d *payloadDecoder) warnings() ([]string, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '[' {
		return nil, d.valueError("an array")
	}
	d.pos++
	out := []string{} // as encoding/json: [] is empty, not nil
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return out, nil
	}
	for {
		d.space()
		w, err := d.stringValue()
		if err != nil {
			return nil, err
		}
		out = append(out, w)
		done, err := d.next(']')
		if err != nil {
			return nil, err
		}
		if done {
			return out, nil
		}
	}
}

// span reads the string at d.pos (its opening quote) through its closing
// quote and returns what lies between them. plain says it decodes to itself
// (no escape, valid UTF-8); otherwise unquote decodes it. It rejects control
// characters; escapes are checked by unquote.
func (d *payloadDecoder) span() (raw []byte, plain bool, err error) {
	start := d.pos + 1
	i, high := scanString(d.data, start)
	if i < len(d.data) && d.data[i] == '"' {
		// The usual string: no escape, so the first quote ends it.
		d.pos = i + 1
		raw = d.data[start:i]
		return raw, !high || utf8.Valid(raw), nil
	}
	// An escape, which may escape a quote, a control character or the end.
	for ; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return d.data[start:i], false, nil
		case c == '\\':
			i++ // the escaped byte: a '"' there does not end the string
		case c < 0x20:
			d.pos = i
			return nil, false, d.syntaxError("a string without control characters (escape them)")
		}
	}
	d.pos = len(d.data)
	return nil, false, d.syntaxError("the end of a string")
}

// scanString returns the index of the first byte of data from i on that is
// '"', '\\' or a control character (len(data) if none), and whether a byte
// of a multi-byte UTF-8 sequence comes before it. It reads 8 bytes at a time.
func scanString(data []byte, i int) (stop int, high bool) {
	var highs uint64
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		if m := stopBytes(x); m != 0 {
			n := bits.TrailingZeros64(m) >> 3
			highs |= x & highBits & (1<<(8*n) - 1) // the bytes before the stop
			return i + n, highs != 0
		}
		highs |= x & highBits
	}
	for ; i < len(data); i++ {
		c := data[i]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		highs |= uint64(c) & 0x80
	}
	return i, highs != 0
}

const (
	lowBits  = 0x0101010101010101 // the low bit of each byte of a word
	highBits = 0x8080808080808080 // the high bit of each byte
	low7Bits = 0x7f7f7f7f7f7f7f7f
)

// stopBytes has the high bit set of each byte of x that is '"', '\\' or a
// control character, and no other bit. (Exact: no carry crosses bytes.)
func stopBytes(x uint64) uint64 {
	q := x ^ (lowBits * '"')
	b := x ^ (lowBits * '\\')
	quote := ^((q&low7Bits + low7Bits) | q)       // q's byte is 0
	backslash := ^((b&low7Bits + low7Bits) | b)   // b's byte is 0
	control := ^((x&low7Bits + lowBits*0x60) | x) // x's byte is < 0x20
	return (quote | backslash | control) & highBits
}

// unquotedSize is room enough for raw unquoted: every escape is at least as
// long as what it stands for, and so is valid UTF-8; each byte of invalid
// UTF-8 becomes U+FFFD, 3 bytes.
func unquotedSize(raw []byte) int {
	if utf8.Valid(raw) {
		return len(raw)
	}
	return 3 * len(raw)
}

// unquote decodes the inside of a string, which span has bounded and found
// free of control characters, as encoding/json does, appending it to b,
// which must have room for unquotedSize(raw) more bytes: it is never
// reallocated, so no copy of a secret is left behind in freed memory. On
// error it zeroes what it wrote.
func (d *payloadDecoder) unquote(b, raw []byte) ([]byte, error) {
	base := d.pos - 1 - len(raw) // the offset of raw in the input, for errors
	n0 := len(b)
	fail := func(at int, what string) ([]byte, error) {
		clear(b[n0:])
		return nil, &payloadError{Offset: base + at, What: what}
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				b = append(b, c)
				i++
				continue
			}
			r, n := utf8.DecodeRune(raw[i:])
			b = utf8.AppendRune(b, r)
			i += n
			continue
		}
		if i+1 >= len(raw) {
			return fail(i, "an escape")
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			b = append(b, raw[i+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			if r < 0 {
				return fail(i, "four hexadecimal digits after \\u")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// A pair is two escapes; anything else leaves a lone half,
				// U+FFFD (and the next escape is read on its own).
				if len(raw)-i >= 2 && raw[i] == '\\' && raw[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(raw[i+2:])); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return fail(i, "an escape (one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
		}
		i += 2
	}
	return b, nil
}

// hex4 is the value of the 4 hexadecimal digits b starts with, or -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
