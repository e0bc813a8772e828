//! Queue configuration YAML (queues.rs, as the runqy server reads it):
//! never a panic, whatever the document; every problem found is one clean
//! line; every queue is from the file read, and its git_token, classified,
//! is a valid reference or a reason that never holds the token's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runqy_vault::names;
use runqy_vault::queues::{GitToken, QueueConfigs, QueueSource};

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let configs = QueueConfigs::from_yaml(text, "fuzz.yaml");
    assert!(configs.given);
    for problem in &configs.problems {
        common::assert_shown(&problem.to_string());
    }
    for queue in &configs.queues {
        assert_eq!(queue.source, QueueSource::File("fuzz.yaml".into()));
        match &queue.git_token {
            GitToken::Reference(r) => {
                assert!(names::check_vault_name(&r.vault).is_ok());
                assert!(names::check_key(&r.key).is_ok());
            }
            GitToken::Malformed(reason) => common::assert_shown(reason),
            GitToken::None | GitToken::NotAReference => {}
        }
    }
});
