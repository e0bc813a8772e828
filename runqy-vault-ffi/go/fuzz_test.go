package runqyvault

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzPayloadJSON decodes arbitrary bytes as the library's payload JSON, as
// a Go server or worker does with what the library hands it: never a panic;
// what decodes survives its own marshalling (the worker's JSON, which never
// carries the warnings) with the same token and vaults.
// scripts/fuzz.sh runs it; `go test -fuzz=FuzzPayloadJSON` runs it longer.
func FuzzPayloadJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"vaults":{"API_KEY":"sk-1","REGION":"eu"}}`,
		`{"git_token":"ghp_x","vaults":{"A":"1"},"warnings":["git_token left out: entry 'X' not found in vault 'ci'"]}`,
		`{"vaults":{"A":"line\nbreak \u0000 \u00e9 \ud83d\ude00"},"extra":[1,2,{"x":null}]}`,
		`{"vaults":null,"git_token":null}`,
		`{"vaults":{"A":1}}`,
		`[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Payload
		if err := json.Unmarshal(data, &p); err != nil {
			return
		}
		wire, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("a decoded payload does not marshal: %v", err)
		}
		if strings.Contains(string(wire), `"warnings"`) {
			t.Fatalf("the worker's JSON carries warnings: %s", wire)
		}
		var again Payload
		if err := json.Unmarshal(wire, &again); err != nil {
			t.Fatalf("own JSON does not decode: %v: %s", err, wire)
		}
		if again.GitToken != p.GitToken || len(again.Vaults) != len(p.Vaults) {
			t.Fatalf("round trip changed the payload: %q -> %q", p, again)
		}
		for k, v := range p.Vaults {
			if again.Vaults[k] != v {
				t.Fatalf("vault entry %q changed in the round trip", k)
			}
		}
		if len(again.Warnings) != 0 {
			t.Fatalf("warnings came back from the worker's JSON")
		}
	})
}
