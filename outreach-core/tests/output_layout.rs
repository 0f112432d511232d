//! Which columns an output has, in what order, and where each value comes from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_core::output::{OutputLayout, PERSONALIZED_COLUMN, RESEARCH_COLUMN, STATUS_COLUMN};
use outreach_core::{Error, InputError, RowOutcome, RowStatus};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn outcome(research: &str, personalized: &str) -> RowOutcome {
    RowOutcome {
        research: research.into(),
        personalized: personalized.into(),
        status: RowStatus::Enriched,
        draft: None,
    }
}

#[test]
fn default_layout_keeps_every_input_column_then_adds_the_three() {
    let layout = OutputLayout::new(&strings(&["email", "name", "company"]), None).unwrap();
    assert_eq!(
        layout.headers(),
        strings(&[
            "email",
            "name",
            "company",
            "sif_research",
            "sif_personalized",
            "sif_status"
        ])
    );
    assert_eq!(
        layout.project(
            &strings(&["a@x.com", "Ann", "X Corp"]),
            &outcome("{\"person\":{}}", "Hi Ann.")
        ),
        strings(&[
            "a@x.com",
            "Ann",
            "X Corp",
            "{\"person\":{}}",
            "Hi Ann.",
            "enriched"
        ])
    );
}

#[test]
fn default_layout_replaces_existing_sif_columns_wherever_they_are() {
    let input = strings(&["sif_personalized", "email", "sif_research", "name"]);
    let layout = OutputLayout::new(&input, None).unwrap();
    assert_eq!(
        layout.headers(),
        strings(&[
            "email",
            "name",
            RESEARCH_COLUMN,
            PERSONALIZED_COLUMN,
            STATUS_COLUMN
        ])
    );
    let row = strings(&["old line", "b@y.org", "old research", "Bob"]);
    assert_eq!(
        layout.project(&row, &outcome("new research", "new line")),
        strings(&["b@y.org", "Bob", "new research", "new line", "enriched"])
    );
}

#[test]
fn output_columns_choose_and_order_the_columns() {
    let input = strings(&["email", "name", "company", "title"]);
    let list = strings(&["sif_personalized", "name", "email"]);
    let layout = OutputLayout::new(&input, Some(&list)).unwrap();
    assert_eq!(layout.headers(), list);
    assert_eq!(
        layout.project(
            &strings(&["c@z.io", "Cy", "Z", "CEO"]),
            &outcome("research", "opener")
        ),
        strings(&["opener", "Cy", "c@z.io"])
    );
}

#[test]
fn output_columns_take_the_new_sif_value_not_the_input_one() {
    let input = strings(&["email", "sif_research"]);
    let list = strings(&["sif_research", "email"]);
    let layout = OutputLayout::new(&input, Some(&list)).unwrap();
    assert_eq!(
        layout.project(&strings(&["d@w.com", "stale"]), &outcome("fresh", "line")),
        strings(&["fresh", "d@w.com"])
    );
}

#[test]
fn an_unknown_output_column_is_named_in_the_error() {
    let input = strings(&["email", "name"]);
    let list = strings(&["email", "phone"]);
    match OutputLayout::new(&input, Some(&list)) {
        Err(Error::InvalidInput(InputError::UnknownColumn(name))) => assert_eq!(name, "phone"),
        other => panic!("expected UnknownColumn(phone), got {other:?}"),
    }
    // Matching is exact: a different case is a different column.
    let list = strings(&["Email"]);
    match OutputLayout::new(&input, Some(&list)) {
        Err(Error::InvalidInput(InputError::UnknownColumn(name))) => assert_eq!(name, "Email"),
        other => panic!("expected UnknownColumn(Email), got {other:?}"),
    }
}

#[test]
fn a_column_listed_twice_is_an_error() {
    let input = strings(&["email", "name"]);
    for list in [
        strings(&["email", "name", "email"]),
        strings(&["sif_research", "name", "sif_research"]),
    ] {
        let expected = list[0].clone();
        match OutputLayout::new(&input, Some(&list)) {
            Err(Error::InvalidInput(InputError::DuplicateColumn(name))) => {
                assert_eq!(name, expected)
            }
            other => panic!("expected DuplicateColumn({expected}), got {other:?}"),
        }
    }
}

#[test]
fn errors_read_clearly() {
    let input = strings(&["email"]);
    let err = OutputLayout::new(&input, Some(&strings(&["phone"]))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid input: unknown output column `phone`"
    );
    let err = OutputLayout::new(&input, Some(&strings(&["email", "email"]))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid input: output column `email` is listed more than once"
    );
}
