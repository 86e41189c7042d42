//! CBOR (RFC 8949) to the JSON value the awsJson protocols carry, and back.
//!
//! Smithy RPC v2 CBOR and awsJson describe the same shapes with different
//! encodings. Most of the mapping is structural (maps, lists, strings,
//! booleans, integers). Three member types differ and need to be known by
//! name, because JSON does not mark them:
//!
//! | Smithy type | CBOR              | awsJson                  |
//! |-------------|-------------------|--------------------------|
//! | timestamp   | tag 1 + number    | epoch seconds (a number) |
//! | blob        | byte string       | base64 text              |
//! | double      | float             | a number (maybe integral)|
//!
//! [`Shapes`] lists, per service, the member names of those types; the
//! decoder needs none of it (tags and byte strings say what they are).

use serde_json::{Map, Number, Value};

/// The member names of one service whose JSON values need a CBOR type
/// that JSON cannot express.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shapes {
    pub timestamps: &'static [&'static str],
    pub doubles: &'static [&'static str],
    pub blobs: &'static [&'static str],
}

/// Why a CBOR body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed CBOR at byte {at}: {what}")]
pub struct DecodeError {
    pub at: usize,
    pub what: &'static str,
}

/// Nested deeper than this is refused rather than followed (a request body
/// is a few levels deep; a hostile one must not overflow the stack).
const MAX_DEPTH: usize = 64;

/// Decodes one CBOR item, which must be the whole of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut d = Decoder { b: bytes, pos: 0 };
    let v = d.item(0)?;
    if d.pos != bytes.len() {
        return Err(d.err("trailing bytes after the item"));
    }
    Ok(v)
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
}

enum Head {
    Len(u64),
    Indefinite,
}

impl Decoder<'_> {
    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError { at: self.pos, what }
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.b.get(self.pos).ok_or_else(|| self.err("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&[u8], DecodeError> {
        let n = usize::try_from(n).map_err(|_| self.err("length too large"))?;
        let end = self.pos.checked_add(n).filter(|e| *e <= self.b.len()).ok_or_else(|| self.err("unexpected end"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn argument(&mut self, info: u8) -> Result<Head, DecodeError> {
        let n = match info {
            0..=23 => return Ok(Head::Len(info as u64)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Ok(Head::Indefinite),
            _ => return Err(self.err("reserved additional information")),
        };
        Ok(Head::Len(self.take(n)?.iter().fold(0u64, |acc, x| (acc << 8) | *x as u64)))
    }

    fn is_break(&self) -> bool {
        self.b.get(self.pos) == Some(&0xff)
    }

    fn item(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        let first = self.byte()?;
        let (major, info) = (first >> 5, first & 0x1f);
        if major == 7 {
            return self.simple(info);
        }
        let head = self.argument(info)?;
        match (major, head) {
            (0, Head::Len(n)) => Ok(Value::from(n)),
            (1, Head::Len(n)) => {
                let v = i64::try_from(n).map_err(|_| self.err("negative integer out of range"))?;
                Ok(Value::from(-1 - v))
            }
            (2, head) => Ok(Value::String(base64_encode(&self.chunks(2, head)?))),
            (3, head) => {
                let bytes = self.chunks(3, head)?;
                String::from_utf8(bytes).map(Value::String).map_err(|_| self.err("text is not UTF-8"))
            }
            (4, head) => {
                let mut items = Vec::new();
                match head {
                    Head::Len(n) => {
                        for _ in 0..n {
                            items.push(self.item(depth + 1)?);
                        }
                    }
                    Head::Indefinite => {
                        while !self.is_break() {
                            items.push(self.item(depth + 1)?);
                        }
                        self.pos += 1;
                    }
                }
                Ok(Value::Array(items))
            }
            (5, head) => {
                let mut map = Map::new();
                let mut entry = |d: &mut Self| -> Result<(), DecodeError> {
                    let Value::String(k) = d.item(depth + 1)? else { return Err(d.err("a map key is not text")) };
                    let v = d.item(depth + 1)?;
                    map.insert(k, v);
                    Ok(())
                };
                match head {
                    Head::Len(n) => {
                        for _ in 0..n {
                            entry(self)?;
                        }
                    }
                    Head::Indefinite => {
                        while !self.is_break() {
                            entry(self)?;
                        }
                        self.pos += 1;
                    }
                }
                Ok(Value::Object(map))
            }
            // Tag 1 (epoch seconds) is what a JSON timestamp is already;
            // other tags carry nothing awsJson could express.
            (6, Head::Len(_)) => self.item(depth + 1),
            _ => Err(self.err("indefinite length where none is allowed")),
        }
    }

    /// A definite or indefinite byte/text string's bytes.
    fn chunks(&mut self, major: u8, head: Head) -> Result<Vec<u8>, DecodeError> {
        match head {
            Head::Len(n) => Ok(self.take(n)?.to_vec()),
            Head::Indefinite => {
                let mut out = Vec::new();
                while !self.is_break() {
                    let first = self.byte()?;
                    if first >> 5 != major {
                        return Err(self.err("a chunk of another type inside an indefinite string"));
                    }
                    match self.argument(first & 0x1f)? {
                        Head::Len(n) => out.extend_from_slice(self.take(n)?),
                        Head::Indefinite => return Err(self.err("nested indefinite string")),
                    }
                }
                self.pos += 1;
                Ok(out)
            }
        }
    }

    fn simple(&mut self, info: u8) -> Result<Value, DecodeError> {
        let float = |f: f64| {
            // awsJson spells the non-finite doubles as strings.
            Number::from_f64(f).map(Value::Number).unwrap_or_else(|| {
                Value::String(
                    if f.is_nan() {
                        "NaN"
                    } else if f > 0.0 {
                        "Infinity"
                    } else {
                        "-Infinity"
                    }
                    .into(),
                )
            })
        };
        match info {
            20 => Ok(Value::Bool(false)),
            21 => Ok(Value::Bool(true)),
            22 | 23 => Ok(Value::Null),
            25 => {
                let b = self.take(2)?;
                Ok(float(half(u16::from_be_bytes([b[0], b[1]]))))
            }
            26 => {
                let b = self.take(4)?;
                Ok(float(f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64))
            }
            27 => {
                let b = self.take(8)?;
                Ok(float(f64::from_be_bytes(b.try_into().expect("8 bytes"))))
            }
            31 => Err(self.err("a break outside an indefinite item")),
            _ => Err(self.err("unsupported simple value")),
        }
    }
}

fn half(h: u16) -> f64 {
    let (sign, exp, frac) = ((h >> 15) as i32, ((h >> 10) & 0x1f) as i32, (h & 0x3ff) as f64);
    let v = match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    };
    if sign == 1 {
        -v
    } else {
        v
    }
}

/// Encodes a JSON value as CBOR, typing the members `shapes` names.
pub fn encode(v: &Value, shapes: &Shapes) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(v, None, shapes, &mut out);
    out
}

fn head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend(n.to_be_bytes());
        }
    }
}

fn f64_item(f: f64, out: &mut Vec<u8>) {
    out.push(0xfb);
    out.extend(f.to_be_bytes());
}

fn integer(n: &Number, out: &mut Vec<u8>) {
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => head(0, u, out),
        (None, Some(i)) => head(1, (-1 - i) as u64, out),
        _ => f64_item(n.as_f64().unwrap_or(0.0), out),
    }
}

/// `key` is the member this value (or, for a list, its elements) belongs to.
fn encode_into(v: &Value, key: Option<&str>, shapes: &Shapes, out: &mut Vec<u8>) {
    let is = |list: &[&str]| key.is_some_and(|k| list.contains(&k));
    match v {
        Value::Null => out.push(0xf6),
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Number(n) if is(shapes.timestamps) => {
            out.push(0xc1);
            match n.as_i64() {
                Some(i) => integer(&Number::from(i), out),
                None => f64_item(n.as_f64().unwrap_or(0.0), out),
            }
        }
        Value::String(s) if is(shapes.timestamps) && rfc3339_seconds(s).is_some() => {
            out.push(0xc1);
            f64_item(rfc3339_seconds(s).unwrap_or_default(), out);
        }
        Value::Number(n) if is(shapes.doubles) => f64_item(n.as_f64().unwrap_or(0.0), out),
        Value::String(s) if is(shapes.doubles) && matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {
            f64_item(s.parse::<f64>().unwrap_or(f64::NAN), out)
        }
        Value::String(s) if is(shapes.blobs) => match base64_decode(s) {
            Some(bytes) => {
                head(2, bytes.len() as u64, out);
                out.extend(bytes);
            }
            None => text(s, out),
        },
        Value::Number(n) => integer(n, out),
        Value::String(s) => text(s, out),
        Value::Array(items) => {
            head(4, items.len() as u64, out);
            items.iter().for_each(|i| encode_into(i, key, shapes, out));
        }
        Value::Object(m) => {
            head(5, m.len() as u64, out);
            for (k, v) in m {
                text(k, out);
                encode_into(v, Some(k), shapes, out);
            }
        }
    }
}

fn text(s: &str, out: &mut Vec<u8>) {
    head(3, s.len() as u64, out);
    out.extend(s.as_bytes());
}

fn rfc3339_seconds(s: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, as awsJson carries blobs.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The inverse of [`base64_encode`]; `None` if `s` is not base64.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        acc = acc << 6 | B64.iter().position(|b| *b == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHAPES: Shapes =
        Shapes { timestamps: &["Timestamp", "Timestamps"], doubles: &["Threshold"], blobs: &["Image"] };

    #[test]
    fn structural_values_round_trip() {
        let v =
            json!({"a": [1, -2, 0.5, "x", true, null], "b": {"c": 300, "d": 70000, "e": 5_000_000_000u64}, "f": ""});
        assert_eq!(decode(&encode(&v, &Shapes::default())).unwrap(), v);
    }

    #[test]
    fn timestamps_are_tagged_and_read_back_as_epoch_seconds() {
        let v = json!({"Timestamp": 1700000000, "Timestamps": [1.5, 2], "Other": 3});
        let cbor = encode(&v, &SHAPES);
        // map(3), "Timestamp", tag 1, uint32
        assert_eq!(&cbor[..12], &[0xa3, 0x69, b'T', b'i', b'm', b'e', b's', b't', b'a', b'm', b'p', 0xc1]);
        assert_eq!(decode(&cbor).unwrap(), json!({"Timestamp": 1700000000, "Timestamps": [1.5, 2], "Other": 3}));
    }

    #[test]
    fn an_rfc3339_timestamp_becomes_epoch_seconds() {
        let cbor = encode(&json!({"Timestamp": "2023-11-14T22:13:20Z"}), &SHAPES);
        assert_eq!(decode(&cbor).unwrap(), json!({"Timestamp": 1700000000.0}));
    }

    #[test]
    fn doubles_are_floats_even_when_integral() {
        let cbor = encode(&json!({"Threshold": 80}), &SHAPES);
        assert_eq!(cbor[cbor.len() - 9], 0xfb, "float64 major type");
        assert_eq!(decode(&cbor).unwrap(), json!({"Threshold": 80.0}));
    }

    #[test]
    fn blobs_are_byte_strings_and_base64_in_json() {
        let cbor = encode(&json!({"Image": base64_encode(b"\x00\x01png")}), &SHAPES);
        assert!(cbor.windows(6).any(|w| w == [0x45, 0, 1, b'p', b'n', b'g']), "{cbor:x?}");
        assert_eq!(decode(&cbor).unwrap(), json!({"Image": "AAFwbmc="}));
    }

    #[test]
    fn indefinite_lengths_and_half_floats_decode() {
        // {_ "a": [_ 1, 2], "b": (_ "x" "y"), "c": 1.5 (f16)}
        let b = [
            0xbf, 0x61, b'a', 0x9f, 0x01, 0x02, 0xff, 0x61, b'b', 0x7f, 0x61, b'x', 0x61, b'y', 0xff, 0x61, b'c', 0xf9,
            0x3e, 0x00, 0xff,
        ];
        assert_eq!(decode(&b).unwrap(), json!({"a": [1, 2], "b": "xy", "c": 1.5}));
    }

    #[test]
    fn non_finite_doubles_are_spelled_as_awsjson_does() {
        assert_eq!(decode(&[0xf9, 0x7e, 0x00]).unwrap(), json!("NaN"));
        assert_eq!(decode(&[0xf9, 0x7c, 0x00]).unwrap(), json!("Infinity"));
        let cbor = encode(&json!({"Threshold": "-Infinity"}), &SHAPES);
        assert_eq!(decode(&cbor).unwrap(), json!({"Threshold": "-Infinity"}));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &[0x62, b'a'][..],
            &[0xa1, 0x01, 0x02],
            &[0x9f, 0x01],
            &[0xff],
            &[0x1c],
            &[0x01, 0x02],
            &[0x7f, 0x01, 0xff],
        ] {
            assert!(decode(bad).is_err(), "{bad:x?}");
        }
        let deep = vec![0x81; 1000];
        assert_eq!(decode(&deep).unwrap_err().what, "nested too deeply");
    }

    #[test]
    fn base64_round_trips_every_length() {
        for n in 0..10 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert!(base64_decode("no!").is_none());
    }
}
