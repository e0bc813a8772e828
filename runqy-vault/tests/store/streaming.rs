//! Export and import as streams (issue 18): the same document as the
//! in-memory calls, all of it or nothing, and an import of more than
//! 10,000 values recorded in parts of the audit log.

use runqy_vault::model::AuditFilter;
use runqy_vault::{ErrorKind, Store};

use super::key_text;

fn document(vaults: usize, per_vault: usize, bad_last: bool) -> String {
    let mut out = Vec::new();
    for v in 0..vaults {
        let entries: Vec<serde_json::Value> = (0..per_vault)
            .map(|k| {
                let key = if bad_last && v + 1 == vaults && k + 1 == per_vault {
                    "1-not-a-key".to_owned()
                } else {
                    format!("KEY_{k}")
                };
                serde_json::json!({"key": key, "value": format!("value-{v}-{k}"), "is_secret": k % 2 == 0})
            })
            .collect();
        out.push(
            serde_json::json!({"name": format!("v{v}"), "description": "d", "entries": entries}),
        );
    }
    serde_json::json!({"format": 1, "vaults": out}).to_string()
}

fn import_text(store: &Store, json: &str) -> runqy_vault::Result<u64> {
    store.import_from("doc.json", false, || Ok(json.as_bytes()))
}

#[test]
fn streamed_export_writes_the_bytes_of_the_whole_document_and_a_newline() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db"), Some(&key_text(1))).unwrap();
    import_text(&store, &document(3, 4, false)).unwrap();
    store.create_vault("empty", "").unwrap();
    let mut out = Vec::new();
    let summary = store.export_to(&mut out).unwrap();
    assert_eq!((summary.vaults, summary.entries), (4, 12));
    let whole = store.export().unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{}\n", whole.to_json().expose())
    );
    let records = store.audit_log(&AuditFilter::default()).unwrap();
    let export = records
        .iter()
        .rev()
        .find(|r| r.operation == "export")
        .unwrap();
    assert_eq!(export.detail["entries"], 12);
}

#[test]
fn a_streamed_import_with_a_bad_last_entry_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db"), Some(&key_text(1))).unwrap();
    store.create_vault("kept", "").unwrap();
    let err = import_text(&store, &document(5, 10, true)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
    assert!(err.to_string().contains("1-not-a-key"), "{err}");
    let names: Vec<String> = store
        .list_vaults()
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["kept"]);
}

#[test]
fn an_import_of_more_than_10000_values_is_recorded_in_parts_that_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db"), Some(&key_text(1))).unwrap();
    assert_eq!(
        import_text(&store, &document(101, 100, false)).unwrap(),
        10_100
    );
    let imports: Vec<_> = store
        .audit_log(&AuditFilter {
            operation: Some("import".to_owned()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(imports.len(), 2);
    assert_eq!(imports[0].detail["part"], 1);
    assert_eq!(
        imports[0].detail["entries"].as_array().unwrap().len(),
        10_000
    );
    assert_eq!(imports[1].detail["part"], 2);
    assert_eq!(imports[1].detail["parts"], 2);
    assert_eq!(imports[1].detail["count"], 10_100);
    assert_eq!(imports[1].detail["entries"].as_array().unwrap().len(), 100);
    assert_eq!(imports[1].detail["entries"][99]["key"], "KEY_99");
    assert_eq!(imports[1].detail["entries"][99]["vault"], "v100");
    assert_eq!(store.audit_verify().unwrap(), 2); // the chain holds across the parts
    assert_eq!(
        store.get("v100", "KEY_99").unwrap().expose(),
        "value-100-99"
    );
}
