//! A protocol translator in front of moto for CloudWatch (shared by tests).
//!
//! CloudWatch's SDK speaks only the Smithy RPC v2 CBOR protocol, which moto
//! (5.2.5) does not serve; it serves CloudWatch's JSON protocol. This shim,
//! on a port of its own, takes the SDK's CBOR requests
//! (`POST /service/<service>/operation/<op>`), forwards them to moto as JSON
//! (`X-Amz-Target: <service>.<op>`) and answers moto's JSON back as CBOR.

use serde_json::{Map, Number, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

/// Starts the shim in front of moto's port; returns the shim's port.
pub fn start(moto_port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the CBOR shim");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = serve(stream, moto_port);
            });
        }
    });
    port
}

fn serve(stream: TcpStream, moto_port: u16) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_string();
    let mut length = 0usize;
    let mut authorization = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "authorization" => authorization = v.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    // /service/GraniteServiceVersion20100801/operation/DescribeAlarms
    let parts: Vec<&str> = path.split('/').collect();
    let (service, op) = (parts.get(2).copied().unwrap_or_default(), parts.get(4).copied().unwrap_or_default());
    let input = if body.is_empty() { Value::Object(Map::new()) } else { decode(&body, &mut 0) };
    let json = input.to_string();
    let mut moto = TcpStream::connect(("127.0.0.1", moto_port))?;
    write!(
        moto,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{moto_port}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: {service}.{op}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{json}",
        json.len()
    )?;
    let mut answer = Vec::new();
    moto.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(500);
    let output = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(_) if text.trim().is_empty() => Value::Object(Map::new()),
        Err(_) => serde_json::json!({"__type": "InternalFailure", "message": text}),
    };
    let mut cbor = Vec::new();
    encode(&output, "", &mut cbor);
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} Shim\r\nContent-Type: application/cbor\r\nsmithy-protocol: rpc-v2-cbor\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        cbor.len()
    )?;
    out.write_all(&cbor)?;
    out.flush()
}

fn argument(b: &[u8], pos: &mut usize, info: u8) -> Option<u64> {
    let n = match info {
        0..=23 => return Some(info as u64),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return None, // indefinite length
    };
    let v = b[*pos..*pos + n].iter().fold(0u64, |acc, x| (acc << 8) | *x as u64);
    *pos += n;
    Some(v)
}

/// One CBOR item as JSON (byte strings as text, tags dropped).
fn decode(b: &[u8], pos: &mut usize) -> Value {
    let first = b[*pos];
    *pos += 1;
    let (major, info) = (first >> 5, first & 0x1f);
    let arg = argument(b, pos, info);
    match major {
        0 => Value::from(arg.unwrap_or(0)),
        1 => Value::from(-1 - arg.unwrap_or(0) as i64),
        2 | 3 => match arg {
            Some(n) => {
                let s = String::from_utf8_lossy(&b[*pos..*pos + n as usize]).to_string();
                *pos += n as usize;
                Value::String(s)
            }
            None => {
                let mut s = String::new();
                while b[*pos] != 0xff {
                    s.push_str(decode(b, pos).as_str().unwrap_or_default());
                }
                *pos += 1;
                Value::String(s)
            }
        },
        4 => {
            let mut items = Vec::new();
            match arg {
                Some(n) => (0..n).for_each(|_| items.push(decode(b, pos))),
                None => {
                    while b[*pos] != 0xff {
                        items.push(decode(b, pos));
                    }
                    *pos += 1;
                }
            }
            Value::Array(items)
        }
        5 => {
            let mut map = Map::new();
            let mut entry = |pos: &mut usize| {
                let k = decode(b, pos);
                let v = decode(b, pos);
                map.insert(k.as_str().unwrap_or_default().to_string(), v);
            };
            match arg {
                Some(n) => (0..n).for_each(|_| entry(pos)),
                None => {
                    while b[*pos] != 0xff {
                        entry(pos);
                    }
                    *pos += 1;
                }
            }
            Value::Object(map)
        }
        6 => decode(b, pos),
        _ => match info {
            20 => Value::Bool(false),
            21 => Value::Bool(true),
            25 => Value::from(half(arg.unwrap_or(0) as u16)),
            26 => Value::from(f32::from_bits(arg.unwrap_or(0) as u32) as f64),
            27 => Number::from_f64(f64::from_bits(arg.unwrap_or(0))).map(Value::Number).unwrap_or(Value::Null),
            _ => Value::Null,
        },
    }
}

fn half(h: u16) -> f64 {
    let (sign, exp, frac) = ((h >> 15) as i32, ((h >> 10) & 0x1f) as i32, (h & 0x3ff) as f64);
    let v = match exp {
        0 => frac * 2f64.powi(-24),
        31 => f64::INFINITY,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    };
    if sign == 1 {
        -v
    } else {
        v
    }
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

/// JSON as CBOR; numbers under a `…Timestamp` key become timestamps
/// (tag 1), as the SDK expects them.
fn encode(v: &Value, key: &str, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0xf6),
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Number(n) if key.ends_with("Timestamp") => {
            out.push(0xc1);
            out.push(0xfb);
            out.extend(n.as_f64().unwrap_or(0.0).to_be_bytes());
        }
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => head(0, u, out),
            (None, Some(i)) => head(1, (-1 - i) as u64, out),
            _ => {
                out.push(0xfb);
                out.extend(n.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        },
        Value::String(s) => {
            head(3, s.len() as u64, out);
            out.extend(s.as_bytes());
        }
        Value::Array(items) => {
            head(4, items.len() as u64, out);
            items.iter().for_each(|i| encode(i, key, out));
        }
        Value::Object(m) => {
            head(5, m.len() as u64, out);
            for (k, v) in m {
                head(3, k.len() as u64, out);
                out.extend(k.as_bytes());
                encode(v, k, out);
            }
        }
    }
}

#[test]
fn cbor_round_trips_json() {
    let v = serde_json::json!({"a": [1, -2, 0.5, "x", true, null], "b": {"c": 300, "d": 80.0}});
    let mut out = Vec::new();
    encode(&v, "", &mut out);
    assert_eq!(decode(&out, &mut 0), v);
}
