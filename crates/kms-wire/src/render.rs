//! Success and error bodies in JSON (default) or XML (`Format=XML`), spec §4 and §5.1.
//!
//! Responses are built as serde values so one DTO renders both ways: a JSON object becomes
//! nested elements, and a JSON array under key `Key` becomes repeated `<Key>` elements inside
//! the wrapper the parent names (`"Keys":{"Key":[..]}` → `<Keys><Key/>..</Keys>`).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::raw::Format;

pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
/// Exactly this spelling: the Tea SDKs parse XML errors only for this content type.
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";

/// A rendered answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// `x-acs-retry-after` (milliseconds), only on throttling answers.
    pub retry_after_ms: Option<u32>,
    /// Further response headers (the instance API's `x-kms-*`); values are ids, never secrets.
    pub headers: Vec<(&'static str, String)>,
}

impl Rendered {
    /// A 200 answer that is not an API response (health, metrics, the dev clock).
    pub fn plain(content_type: &'static str, body: Vec<u8>) -> Self {
        Self { status: 200, content_type, body, retry_after_ms: None, headers: Vec::new() }
    }
}

/// Renders a success body for `action` with `RequestId` added.
///
/// JSON is written straight from the response, with `RequestId` first: no intermediate value
/// tree, so an answer carrying a plaintext or a data key has one copy, the body, which the HTTP
/// layer wipes once written. XML goes through a value tree to be laid out as elements.
pub fn success<T: Serialize>(
    action: &str,
    request_id: &str,
    format: Format,
    response: &T,
) -> Result<Rendered, ApiError> {
    if format == Format::Json {
        #[derive(Serialize)]
        struct WithRequestId<'a, T> {
            #[serde(rename = "RequestId")]
            request_id: &'a str,
            #[serde(flatten)]
            response: &'a T,
        }
        // Only a struct or map flattens: anything else is a handler's bug, as below.
        let body = serde_json::to_vec(&WithRequestId { request_id, response }).map_err(|_| ApiError::internal())?;
        return Ok(Rendered {
            status: 200,
            content_type: JSON_CONTENT_TYPE,
            body,
            retry_after_ms: None,
            headers: Vec::new(),
        });
    }
    let mut map = Map::new();
    map.insert("RequestId".into(), Value::String(request_id.into()));
    match serde_json::to_value(response).map_err(|_| ApiError::internal())? {
        Value::Object(fields) => map.extend(fields),
        Value::Null => {}
        _ => return Err(ApiError::internal()),
    }
    Ok(render(&format!("{action}Response"), Value::Object(map), 200, format))
}

/// Renders an error body (spec §5.1).
pub fn error(e: &ApiError, request_id: &str, host_id: &str, format: Format) -> Rendered {
    let code = e.code.as_str();
    let mut map = Map::new();
    map.insert("RequestId".into(), request_id.into());
    map.insert("HostId".into(), host_id.into());
    map.insert("Code".into(), code.into());
    map.insert("Message".into(), e.message.as_ref().into());
    map.insert(
        "Recommend".into(),
        format!("https://api.aliyun.com/troubleshoot?q={code}&product=Kms&requestId={request_id}").into(),
    );
    map.insert("HttpStatus".into(), e.code.http_status().into());
    Rendered { retry_after_ms: e.retry_after_ms, ..render("Error", Value::Object(map), e.code.http_status(), format) }
}

fn render(root: &str, value: Value, status: u16, format: Format) -> Rendered {
    match format {
        Format::Json => {
            let body = serde_json::to_vec(&value).unwrap_or_default();
            Rendered { status, content_type: JSON_CONTENT_TYPE, body, retry_after_ms: None, headers: Vec::new() }
        }
        Format::Xml => Rendered {
            status,
            content_type: XML_CONTENT_TYPE,
            body: to_xml(root, &value),
            retry_after_ms: None,
            headers: Vec::new(),
        },
    }
}

fn to_xml(root: &str, value: &Value) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    write_element(&mut w, root, value);
    w.into_inner()
}

fn write_element(w: &mut Writer<Vec<u8>>, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(w, name, item);
            }
        }
        Value::Null => {}
        _ => {
            let _ = w.write_event(Event::Start(BytesStart::new(name)));
            match value {
                Value::Object(fields) => {
                    for (k, v) in fields {
                        write_element(w, k, v);
                    }
                }
                Value::String(s) => {
                    let _ = w.write_event(Event::Text(BytesText::new(s)));
                }
                other => {
                    let _ = w.write_event(Event::Text(BytesText::new(&other.to_string())));
                }
            }
            let _ = w.write_event(Event::End(BytesEnd::new(name)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use serde_json::json;

    #[test]
    fn json_success_adds_request_id() {
        let r = success("DescribeAccountKmsStatus", "rid", Format::Json, &json!({"AccountStatus": "Enabled"})).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, JSON_CONTENT_TYPE);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v, json!({"RequestId": "rid", "AccountStatus": "Enabled"}));
    }

    #[test]
    fn json_success_is_written_in_field_order_with_request_id_first() {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            key_id: &'static str,
            plaintext: Option<&'static str>,
            count: u32,
        }
        let r = success("X", "rid", Format::Json, &Answer { key_id: "k", plaintext: None, count: 2 }).unwrap();
        assert_eq!(String::from_utf8(r.body).unwrap(), r#"{"RequestId":"rid","KeyId":"k","Plaintext":null,"Count":2}"#);
        assert_eq!(success("X", "rid", Format::Json, &()).unwrap().body, br#"{"RequestId":"rid"}"#);
        assert_eq!(success("X", "rid", Format::Json, &"text").unwrap_err().code, ApiError::internal().code);
    }

    #[test]
    fn xml_success_wraps_lists_in_repeated_elements() {
        let body = json!({"Keys": {"Key": [{"KeyId": "a"}, {"KeyId": "b<&>"}]}, "TotalCount": 2});
        let r = success("ListKeys", "rid", Format::Xml, &body).unwrap();
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListKeysResponse><RequestId>rid</RequestId><Keys><Key><KeyId>a</KeyId></Key><Key><KeyId>b&lt;&amp;&gt;</KeyId></Key></Keys><TotalCount>2</TotalCount></ListKeysResponse>"
        );
    }

    #[test]
    fn errors_carry_every_field_and_status() {
        let e = ApiError::new(Code::KeyNotFound);
        let r = error(&e, "rid", "host", Format::Json);
        assert_eq!(r.status, 404);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["Code"], "Forbidden.KeyNotFound");
        assert_eq!(v["Message"], "The specified Key is not found.");
        assert_eq!(v["RequestId"], "rid");
        assert_eq!(v["HostId"], "host");
        assert_eq!(v["HttpStatus"], 404);
        assert!(v["Recommend"].as_str().unwrap().contains("Forbidden.KeyNotFound"));
        let x = String::from_utf8(error(&e, "rid", "host", Format::Xml).body).unwrap();
        assert!(x.contains("<Error><RequestId>rid</RequestId><HostId>host</HostId><Code>Forbidden.KeyNotFound</Code>"));
    }

    #[test]
    fn json_keeps_non_ascii_raw() {
        // The Java v1 reader cannot read \u escapes (spec §4).
        let r = success("X", "rid", Format::Json, &json!({"Description": "ü/<>"})).unwrap();
        assert!(String::from_utf8(r.body).unwrap().contains("\"ü/<>\""));
    }
}
