//! Request bodies whose rejection is Berth's [`Error`]: a 422 whose `field` names the field that
//! did not read (`"body"` when no single field is to blame).
//!
//! - [`JsonBody<T>`]: an `/api` body (JSON). Rejects with [`ApiError`], so the answer is
//!   `{"error": …, "field": …}`.
//! - [`FormBody<T>`]: a page's form (`application/x-www-form-urlencoded`). Rejects with [`Error`],
//!   the error page. A page that answers htmx with a flash message reads the body as `Bytes` and
//!   calls [`form`] inside its action instead, so the refusal reaches the flash.
//! - [`json`], [`json_or_default`], [`form`]: the same readings for a body already in hand.
//!
//! The field name is taken from `T`'s own declared field names, so it is always one of the
//! struct's fields (never a word from the request).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Error, Result};

/// A JSON request body of type `T`.
#[derive(Debug, Clone, Default)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| rejected(e.body_text()))?;
        Ok(JsonBody(json(&bytes)?))
    }
}

/// A form body of type `T`.
#[derive(Debug, Clone, Default)]
pub struct FormBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| rejected(e.body_text()))?;
        Ok(FormBody(form(&bytes)?))
    }
}

fn rejected(why: String) -> Error {
    Error::invalid("body", format!("The request body could not be read: {why}"))
}

/// Reads `bytes` as JSON.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    // serde reads an array into a struct's fields in order: a struct is meant as an object.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if !declared_fields::<T>().is_empty() && first.is_some_and(|b| *b != b'{') {
        return Err(Error::invalid(
            "body",
            "The request body is not the expected JSON: expected an object {…}.",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        Error::invalid(
            field_of::<T, _>(&e),
            format!(
                "The request body is not the expected JSON: {}",
                describe(&e)
            ),
        )
    })?;
    de.end().map_err(|e| {
        Error::invalid(
            "body",
            format!("The request body is not the expected JSON: {e}"),
        )
    })?;
    Ok(v)
}

/// [`json`], where an empty body means every field's default (an action without options).
pub fn json_or_default<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        json(bytes)
    }
}

/// Reads `bytes` as a urlencoded form.
pub fn form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(de).map_err(|e| {
        Error::invalid(
            field_of::<T, _>(&e),
            format!("The form could not be read: {}", describe(&e)),
        )
    })
}

fn describe<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>) -> String {
    if e.path().iter().next().is_none() {
        e.inner().to_string()
    } else {
        format!("{}: {}", e.path(), e.inner())
    }
}

/// The declared field of `T` the error is about: the first step of its path, or the field a
/// "missing field" message names; else `"body"`.
fn field_of<T: DeserializeOwned, E: std::fmt::Display>(
    e: &serde_path_to_error::Error<E>,
) -> &'static str {
    use serde_path_to_error::Segment;
    let fields = declared_fields::<T>();
    let first = match e.path().iter().next() {
        Some(Segment::Map { key }) => key.clone(),
        _ => String::new(),
    };
    let message = e.inner().to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
        .unwrap_or("");
    [first.as_str(), missing]
        .into_iter()
        .filter(|name| !name.is_empty())
        .find_map(|name| fields.iter().copied().find(|f| *f == name))
        .unwrap_or("body")
}

/// The field names `T` declares (empty for anything but a plain struct): serde hands them to
/// `deserialize_struct` as `&'static [&'static str]`, which this deserializer keeps and then
/// stops.
fn declared_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Deserializer, Visitor};

    #[derive(Debug)]
    struct Stop(&'static [&'static str]);
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop(&[])
        }
    }

    struct Names;
    impl<'de> Deserializer<'de> for Names {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            Err(Stop(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    match T::deserialize(Names) {
        Err(Stop(fields)) => fields,
        Ok(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, Default)]
    #[allow(dead_code)] // read only through serde
    struct Spec {
        name: String,
        #[serde(default)]
        count: u32,
        #[serde(default)]
        labels: std::collections::HashMap<String, String>,
    }

    #[test]
    fn declared_fields_of_a_struct() {
        assert_eq!(declared_fields::<Spec>(), &["name", "count", "labels"]);
        assert!(declared_fields::<std::collections::HashMap<String, String>>().is_empty());
    }

    #[test]
    fn json_names_the_bad_field() {
        let e = json::<Spec>(br#"{"name":"a","count":"many"}"#).unwrap_err();
        assert_eq!(e.field(), Some("count"), "{e}");
        assert!(e.to_string().contains("count"), "{e}");
        let e = json::<Spec>(br#"{"count":1}"#).unwrap_err();
        assert_eq!(e.field(), Some("name"), "{e}");
        let e = json::<Spec>(br#"{"name":"a","labels":{"k":1}}"#).unwrap_err();
        assert_eq!(e.field(), Some("labels"), "{e}");
        assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn json_that_is_not_json_blames_the_body() {
        for bad in [
            &b"not json"[..],
            b"",
            b"[1]",
            br#"["a", 1]"#,
            br#"{"name":"a"} trailing"#,
        ] {
            let e = json::<Spec>(bad).unwrap_err();
            assert_eq!(e.field(), Some("body"), "{e}");
        }
        assert_eq!(json::<Spec>(br#"{"name":"a"}"#).unwrap().name, "a");
    }

    #[test]
    fn empty_json_is_the_default_only_where_asked() {
        assert_eq!(json_or_default::<Spec>(b"").unwrap().name, "");
        assert_eq!(json_or_default::<Spec>(b" \n").unwrap().count, 0);
        assert_eq!(
            json_or_default::<Spec>(br#"{"count":2}"#)
                .unwrap_err()
                .field(),
            Some("name")
        );
    }

    #[test]
    fn form_names_the_bad_field() {
        let e = form::<Spec>(b"name=a&count=x").unwrap_err();
        assert_eq!(e.field(), Some("count"), "{e}");
        let e = form::<Spec>(b"count=3").unwrap_err();
        assert_eq!(e.field(), Some("name"), "{e}");
        let ok = form::<Spec>(b"name=a%20b&count=3").unwrap();
        assert_eq!((ok.name.as_str(), ok.count), ("a b", 3));
    }
}
