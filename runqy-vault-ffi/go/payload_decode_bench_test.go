//go:build runqyvault_decodebench

package runqyvault

// The decoding of RegistrationPayload alone, without the library: the
// hand-written decoder against encoding/json on the JSON of bench_test.go's
// payload (20 keys after the merge of 3 vaults x 20). Built only with
// -tags runqyvault_decodebench, so that `go test -bench .` times the
// package's calls alone:
//
//	go test -tags runqyvault_decodebench -run '^$' -bench Decode -benchmem .

import (
	"encoding/json"
	"fmt"
	"testing"
)

func benchPayloadJSON() []byte {
	vaults := map[string]string{}
	for k := 0; k < 20; k++ {
		vaults[fmt.Sprintf("KEY_%02d", k)] = fmt.Sprintf("value-2-%02d-xxxxxxxxxxxxxxxxxxxx", k)
	}
	raw, err := json.Marshal(map[string]any{"vaults": vaults}) // as the library writes it
	if err != nil {
		panic(err)
	}
	return raw
}

func BenchmarkDecodePayload(b *testing.B) {
	raw := benchPayloadJSON()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		var p payloadWire
		if err := decodePayload(raw, &p); err != nil || len(p.Vaults) != 20 {
			b.Fatal(err, len(p.Vaults))
		}
	}
}

func BenchmarkDecodePayloadEncodingJSON(b *testing.B) {
	raw := benchPayloadJSON()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		var p payloadWire
		if err := json.Unmarshal(raw, &p); err != nil || len(p.Vaults) != 20 {
			b.Fatal(err, len(p.Vaults))
		}
	}
}
