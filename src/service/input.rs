//! Checks of free-text input shared by the writers (conversations, tickets,
//! agents). Imports only `domain` and `error`.

use crate::domain::customer::{check_text, Errors};
use crate::error::{Error, Result};

/// Checks one text input, trimmed: empty is absent, an error when
/// `required`; present text must pass [`check_text`] within `max` characters.
pub fn text_input(
    field: &str,
    value: Option<String>,
    max: usize,
    required: bool,
) -> Result<Option<String>> {
    let mut e = Errors::default();
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match &value {
        None if required => e.push(field, "must not be empty"),
        Some(v) => {
            check_text(&mut e, field, v, max);
        }
        None => {}
    }
    if e.0.is_empty() {
        Ok(value)
    } else {
        Err(Error::invalid_fields(e.0))
    }
}
