//! The front: an HTTP/1.1 proxy on loopback in front of moto.
//!
//! A request in Smithy RPC v2 CBOR (`POST /service/<Service>/operation/<Op>`
//! with `smithy-protocol: rpc-v2-cbor`) for a service in [`SERVICES`] is
//! translated to the awsJson protocol moto serves (`POST /` with
//! `X-Amz-Target: <Service>.<Op>`), and moto's answer, error or not, is
//! translated back. Every other request passes through byte for byte.
//!
//! Each connection carries one request: the front answers with
//! `Connection: close`, which keeps the relay simple and costs nothing on
//! loopback.

use crate::cbor::{self, Shapes};
use serde_json::{json, Map, Value};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A service the Rust SDK speaks RPC v2 CBOR to, and the awsJson protocol
/// moto serves for it. Both are listed in the service's Smithy model.
#[derive(Debug)]
pub struct Service {
    /// The service shape's name: the `<Service>` of the CBOR path and the
    /// prefix of the awsJson `X-Amz-Target`.
    pub target: &'static str,
    /// `1.0` or `1.1`: the awsJson version of the model.
    pub json_version: &'static str,
    pub shapes: Shapes,
}

/// The CBOR services. The member names are those the model types as
/// timestamp, double or blob (for CloudWatch, read off the SDK's generated
/// deserializers, aws-sdk-cloudwatch 1.140).
pub const SERVICES: &[Service] = &[
    Service {
        target: "GraniteServiceVersion20100801",
        json_version: "1.0",
        shapes: Shapes {
            timestamps: &[
                "AlarmConfigurationUpdatedTimestamp",
                "CreatedAt",
                "CreationDate",
                "EndTime",
                "ExpireDate",
                "LastModified",
                "LastUpdateDate",
                "LastUpdatedTimestamp",
                "StartTime",
                "StateTransitionedTimestamp",
                "StateUpdatedTimestamp",
                "Timestamp",
                "Timestamps",
                "UpdatedAt",
            ],
            doubles: &[
                "AggregateValue",
                "ApproximateAggregateValue",
                "ApproximateValue",
                "Average",
                "MaxContributorValue",
                "Maximum",
                "Minimum",
                "SampleCount",
                "Sum",
                "Threshold",
                "UniqueContributors",
                "Value",
                "Values",
            ],
            blobs: &["MetricWidgetImage"],
        },
    },
    Service {
        target: "CodeDeploy_20141006",
        json_version: "1.1",
        shapes: Shapes {
            timestamps: &[
                "completeTime",
                "createTime",
                "deregisterTime",
                "endTime",
                "firstUsedTime",
                "lastUpdatedAt",
                "lastUsedTime",
                "registerTime",
                "startTime",
            ],
            doubles: &[],
            blobs: &[],
        },
    },
];

/// The running front; stops accepting when dropped.
pub struct Front {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Front {
    /// Listens on `127.0.0.1:port` (0: a free port) and relays to
    /// `upstream`, moto's port on loopback.
    pub fn start(port: u16, upstream: u16) -> io::Result<Front> {
        Front::start_with_delay(port, upstream, Duration::ZERO)
    }

    /// Like [`Front::start`], holding every request `delay` before it is
    /// relayed: a distant endpoint, for the latency benchmark. Requests
    /// are held concurrently, each on its own connection.
    pub fn start_with_delay(port: u16, upstream: u16, delay: Duration) -> io::Result<Front> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        // Held while a DynamoDB request is relayed (see `serve`).
        let dynamodb = Arc::new(Mutex::new(()));
        let accept = std::thread::Builder::new().name("local-aws-front".into()).spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let dynamodb = dynamodb.clone();
                std::thread::spawn(move || {
                    if let Err(e) = serve(stream, upstream, delay, &dynamodb) {
                        eprintln!("local-aws: a request failed: {e}");
                    }
                });
            }
        })?;
        Ok(Front { addr, stop, accept: Some(accept) })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag, and wait for it to
        // close the listener: after a drop, nothing answers on the port.
        if TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).is_ok() {
            if let Some(t) = self.accept.take() {
                let _ = t.join();
            }
        }
    }
}

/// One request's head: the request line and the headers, as sent.
struct Head {
    method: String,
    path: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("not an HTTP request line: {line:?}")));
    };
    let (method, path, version) = (method.to_string(), path.to_string(), version.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some(Head { method, path, version, headers }))
}

/// The request body, raw: by Content-Length, or chunked as sent (chunk
/// framing included, for a pass-through).
fn read_body(r: &mut impl BufRead, head: &Head) -> io::Result<Vec<u8>> {
    if head.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut raw = Vec::new();
        loop {
            let mut size_line = String::new();
            r.read_line(&mut size_line)?;
            raw.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut t = String::new();
                    r.read_line(&mut t)?;
                    raw.extend_from_slice(t.as_bytes());
                    if t.trim().is_empty() {
                        return Ok(raw);
                    }
                }
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            raw.extend_from_slice(&chunk);
        }
    }
    let len: usize = head.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(body)
}

fn serve(client: TcpStream, upstream: u16, delay: Duration, dynamodb: &Mutex<()>) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(head) = read_head(&mut reader)? else { return Ok(()) };
    let mut client = client;
    if head.get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(&mut reader, &head)?;
    std::thread::sleep(delay);
    // moto 5.2.5 checks a DynamoDB condition and writes the item without a
    // lock, so two conditional PutItems sent at once can both succeed
    // (two_concurrent_lockers_exactly_one_wins saw both lockers win). AWS
    // applies them one at a time: so does the front, for DynamoDB only.
    let _one_at_a_time = is_dynamodb(&head).then(|| dynamodb.lock().unwrap_or_else(|p| p.into_inner()));
    match cbor_request(&head) {
        Some((service, op)) => translate(&mut client, &head, &body, service, op, upstream),
        None => pass_through(&mut client, &head, &body, upstream),
    }
}

/// Whether the request is DynamoDB's (awsJson 1.0, `DynamoDB_20120810.*`).
fn is_dynamodb(head: &Head) -> bool {
    head.get("x-amz-target").is_some_and(|t| t.starts_with("DynamoDB_20120810."))
}

/// `Some((service, operation))` for an RPC v2 CBOR request to a service
/// this front translates.
fn cbor_request(head: &Head) -> Option<(&'static Service, &str)> {
    if head.method != "POST" || !head.get("smithy-protocol").is_some_and(|p| p.eq_ignore_ascii_case("rpc-v2-cbor")) {
        return None;
    }
    let rest = head.path.split('?').next()?.strip_prefix("/service/")?;
    let (target, op) = rest.split_once("/operation/")?;
    let service = SERVICES.iter().find(|s| s.target == target)?;
    Some((service, op))
}

fn pass_through(client: &mut TcpStream, head: &Head, body: &[u8], upstream: u16) -> io::Result<()> {
    let mut moto = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut out = format!("{} {} {}\r\n", head.method, head.path, head.version);
    for (k, v) in &head.headers {
        if !k.eq_ignore_ascii_case("connection") && !k.eq_ignore_ascii_case("expect") {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    moto.write_all(out.as_bytes())?;
    moto.write_all(body)?;
    moto.flush()?;
    // The answer: its head with `Connection: close`, then the rest as sent.
    let mut answer = BufReader::new(moto);
    let mut status = String::new();
    answer.read_line(&mut status)?;
    client.write_all(status.as_bytes())?;
    if is_get_bucket_versioning(head) {
        return answer_bucket_versioning(client, &mut answer);
    }
    loop {
        let mut line = String::new();
        if answer.read_line(&mut line)? == 0 {
            break;
        }
        if line.trim_end().is_empty() {
            client.write_all(b"Connection: close\r\n\r\n")?;
            break;
        }
        if !line.to_ascii_lowercase().starts_with("connection:") {
            client.write_all(line.as_bytes())?;
        }
    }
    io::copy(&mut answer, client)?;
    client.flush()
}

/// What moto answered, whole.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn post_json(upstream: u16, head: &Head, target: &str, version: &str, json: &[u8]) -> io::Result<Answer> {
    let mut moto = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut out =
        format!("POST / HTTP/1.1\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-{version}\r\n");
    for (k, v) in &head.headers {
        let k_lower = k.to_ascii_lowercase();
        // The signature's headers (Authorization names the service moto
        // routes by), the host and AWS's own; not the CBOR framing.
        if k_lower == "authorization" || k_lower == "host" || k_lower.starts_with("x-amz-") && k_lower != "x-amz-target"
        {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", json.len()));
    moto.write_all(out.as_bytes())?;
    moto.write_all(json)?;
    let mut reader = BufReader::new(moto);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(502);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    Ok(Answer { status, headers, body })
}

fn translate(
    client: &mut TcpStream,
    head: &Head,
    body: &[u8],
    service: &Service,
    op: &str,
    upstream: u16,
) -> io::Result<()> {
    let target = format!("{}.{op}", service.target);
    if head.get("content-encoding").is_some_and(|e| !e.eq_ignore_ascii_case("identity")) {
        let e = error_body(
            "SerializationException",
            "the local endpoint does not decompress CBOR requests; set AWS_DISABLE_REQUEST_COMPRESSION=true",
        );
        return respond(client, 400, &[], &e, &service.shapes);
    }
    let input = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        match cbor::decode(body) {
            Ok(v) => v,
            Err(e) => {
                return respond(
                    client,
                    400,
                    &[],
                    &error_body("SerializationException", &e.to_string()),
                    &service.shapes,
                )
            }
        }
    };
    let json = serde_json::to_vec(&input).expect("a JSON value serializes");
    let answer = post_json(upstream, head, &target, service.json_version, &json)?;
    let output = answer_value(&answer, &target);
    // The headers the SDK reads an error's code or the request id from.
    let keep: Vec<(String, String)> = answer
        .headers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k == "x-amzn-requestid" || k == "x-amzn-query-error" || k == "x-amzn-errortype"
        })
        .cloned()
        .collect();
    respond(client, answer.status, &keep, &output, &service.shapes)
}

fn error_body(code: &str, message: &str) -> Value {
    json!({"__type": code, "message": message})
}

/// moto's answer as the JSON value to encode: its JSON as is; an error in
/// another shape (XML, HTML, text) becomes an awsJson error that says what
/// moto answered.
fn answer_value(answer: &Answer, target: &str) -> Value {
    let text = String::from_utf8_lossy(&answer.body);
    if text.trim().is_empty() {
        return Value::Object(Map::new());
    }
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return v;
    }
    if let (Some(code), message) = (xml_text(&text, "Code"), xml_text(&text, "Message")) {
        return error_body(&code, &message.unwrap_or_default());
    }
    let first: String = text.chars().take(200).collect();
    if answer.status == 404 {
        return error_body(
            "UnknownOperationException",
            &format!("the local endpoint (moto) does not serve {target}: it answered HTTP 404: {}", first.trim()),
        );
    }
    error_body(
        if answer.status >= 500 { "InternalFailure" } else { "ValidationException" },
        &format!("moto answered HTTP {} with a body that is not JSON: {}", answer.status, first.trim()),
    )
}

fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

fn respond(
    client: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    value: &Value,
    shapes: &Shapes,
) -> io::Result<()> {
    let body = cbor::encode(value, shapes);
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/cbor\r\nsmithy-protocol: rpc-v2-cbor\r\nContent-Length: {}\r\nConnection: close\r\n",
        if status < 400 { "OK" } else { "Error" },
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    client.write_all(out.as_bytes())?;
    client.write_all(&body)?;
    client.flush()
}

/// `GET /<bucket>?versioning` (GetBucketVersioning, path-style).
fn is_get_bucket_versioning(head: &Head) -> bool {
    head.method == "GET" && head.path.split_once('?').is_some_and(|(_, q)| q.split('&').any(|p| p == "versioning"))
}

/// moto 5.2.5 answers GetBucketVersioning with a `GetBucketVersioningResponse`
/// root (empty for a bucket that was never versioned), which the SDK refuses
/// to parse ("expected VersioningConfiguration"). AWS's root is
/// `VersioningConfiguration`: the front renames it, and relays the rest as
/// sent, its length recomputed.
fn answer_bucket_versioning(client: &mut TcpStream, answer: &mut impl BufRead) -> io::Result<()> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if answer.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        if name != "connection" && name != "content-length" && name != "transfer-encoding" {
            headers.push(line);
        }
    }
    let mut body = Vec::new();
    answer.read_to_end(&mut body)?;
    let text = String::from_utf8_lossy(&body);
    if text.contains("<GetBucketVersioningResponse") {
        body = text.replace("GetBucketVersioningResponse", "VersioningConfiguration").into_bytes();
    }
    for h in headers {
        client.write_all(h.as_bytes())?;
    }
    client.write_all(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes())?;
    client.write_all(&body)?;
    client.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot upstream that records the request it got and answers
    /// with `answer`; returns its port and the recorded request.
    fn upstream(answer: &'static str) -> (u16, std::sync::mpsc::Receiver<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let head = read_head(&mut r).unwrap().unwrap();
            let body = read_body(&mut r, &head).unwrap();
            let mut text = format!("{} {}\n", head.method, head.path);
            for (k, v) in &head.headers {
                text.push_str(&format!("{k}: {v}\n"));
            }
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&body));
            tx.send(text).unwrap();
            let mut s = s;
            s.write_all(answer.as_bytes()).unwrap();
        });
        (port, rx)
    }

    fn send(front: u16, request: &[u8]) -> (String, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", front)).unwrap();
        s.write_all(request).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (String::from_utf8_lossy(&all[..split]).into_owned(), all[split + 4..].to_vec())
    }

    fn cbor_request(op: &str, body: &Value) -> Vec<u8> {
        let b = cbor::encode(body, &Shapes::default());
        let mut r = format!(
            "POST /service/GraniteServiceVersion20100801/operation/{op} HTTP/1.1\r\nHost: x\r\nsmithy-protocol: rpc-v2-cbor\r\n\
             Content-Type: application/cbor\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/monitoring/aws4_request\r\n\
             X-Amz-Date: 20261201T000000Z\r\nContent-Length: {}\r\n\r\n",
            b.len()
        )
        .into_bytes();
        r.extend(b);
        r
    }

    #[test]
    fn a_cbor_request_reaches_moto_as_awsjson_and_the_answer_comes_back_as_cbor() {
        let (up, got) = upstream(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: r-1\r\n\r\n\
             {\"MetricAlarms\":[{\"AlarmName\":\"cpu\",\"Threshold\":80,\"StateUpdatedTimestamp\":1700000000.5}]}",
        );
        let front = Front::start(0, up).unwrap();
        let (head, body) = send(front.port(), &cbor_request("DescribeAlarms", &json!({"AlarmNames": ["cpu"]})));
        let request = got.recv().unwrap();
        assert!(request.starts_with("POST /\n"), "{request}");
        assert!(request.contains("X-Amz-Target: GraniteServiceVersion20100801.DescribeAlarms"), "{request}");
        assert!(request.contains("Content-Type: application/x-amz-json-1.0"), "{request}");
        assert!(request.contains("Credential=testing/20261201/us-east-1/monitoring/"), "{request}");
        assert!(request.ends_with("{\"AlarmNames\":[\"cpu\"]}"), "{request}");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("smithy-protocol: rpc-v2-cbor") && head.contains("x-amzn-RequestId: r-1"), "{head}");
        let alarm = &cbor::decode(&body).unwrap()["MetricAlarms"][0];
        assert_eq!(alarm["Threshold"], json!(80.0), "a double stays a double");
        assert_eq!(alarm["StateUpdatedTimestamp"], json!(1700000000.5));
        // The timestamp went out tagged (epoch seconds, tag 1).
        assert!(body.windows(2).any(|w| w == [0xc1, 0xfb]), "{body:x?}");
    }

    #[test]
    fn an_awsjson_error_keeps_its_status_code_and_query_error_header() {
        let (up, _got) = upstream(
            "HTTP/1.1 404 Not Found\r\nx-amzn-query-error: ResourceNotFound;Sender\r\n\r\n\
             {\"__type\":\"ResourceNotFound\",\"message\":\"no alarm named nope\"}",
        );
        let front = Front::start(0, up).unwrap();
        let (head, body) = send(front.port(), &cbor_request("SetAlarmState", &json!({"AlarmName": "nope"})));
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        assert!(head.contains("x-amzn-query-error: ResourceNotFound;Sender"), "{head}");
        assert_eq!(
            cbor::decode(&body).unwrap(),
            json!({"__type": "ResourceNotFound", "message": "no alarm named nope"})
        );
    }

    #[test]
    fn an_xml_error_becomes_an_awsjson_error() {
        let (up, _got) = upstream(
            "HTTP/1.1 400 Bad Request\r\n\r\n<ErrorResponse><Error><Code>InvalidParameterValue</Code>\
             <Message>bad period</Message></Error></ErrorResponse>",
        );
        let front = Front::start(0, up).unwrap();
        let (head, body) = send(front.port(), &cbor_request("PutMetricAlarm", &json!({})));
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
        assert_eq!(cbor::decode(&body).unwrap(), json!({"__type": "InvalidParameterValue", "message": "bad period"}));
    }

    #[test]
    fn an_operation_moto_lacks_is_named_in_the_error() {
        let (up, _got) = upstream("HTTP/1.1 404 NOT FOUND\r\nContent-Type: text/html\r\n\r\n<html>Not Found</html>");
        let front = Front::start(0, up).unwrap();
        let (_, body) = send(front.port(), &cbor_request("PutDashboard", &json!({})));
        let v = cbor::decode(&body).unwrap();
        assert_eq!(v["__type"], "UnknownOperationException");
        assert!(v["message"].as_str().unwrap().contains("GraniteServiceVersion20100801.PutDashboard"), "{v}");
    }

    #[test]
    fn a_malformed_cbor_body_is_a_serialization_error() {
        let front = Front::start(0, 1).unwrap();
        let mut req = cbor_request("DescribeAlarms", &json!({}));
        let n = req.len();
        req[n - 1] = 0xff; // {} → a break with nothing open
        req.truncate(n - 1);
        req.extend([0x62, b'a']);
        let (head, body) = send(front.port(), &req);
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
        assert_eq!(cbor::decode(&body).unwrap()["__type"], "SerializationException");
    }

    #[test]
    fn other_requests_pass_through_untouched() {
        let (up, got) = upstream("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello");
        let front = Front::start(0, up).unwrap();
        let (head, body) = send(
            front.port(),
            b"PUT /bucket/key HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        );
        let request = got.recv().unwrap();
        assert!(request.starts_with("PUT /bucket/key\n"), "{request}");
        assert!(request.ends_with("3\r\nabc\r\n0\r\n\r\n"), "the chunked body as sent: {request:?}");
        assert!(!request.contains("Expect"), "{request}");
        assert_eq!(head, "HTTP/1.1 100 Continue");
        let answer = String::from_utf8_lossy(&body);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"), "{answer}");
        assert!(answer.contains("Connection: close") && !answer.contains("keep-alive"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
    }

    #[test]
    fn moto_s_bucket_versioning_answer_gets_the_root_aws_gives_it() {
        let moto_body = r#"<?xml version="1.0" encoding="UTF-8"?><GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{moto_body}",
                moto_body.len()
            )
            .into_boxed_str(),
        );
        let (up, _got) = upstream(answer);
        let front = Front::start(0, up).unwrap();
        let (head, body) = send(front.port(), b"GET /team-state?versioning HTTP/1.1\r\nHost: x\r\n\r\n");
        let want = r#"<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#;
        assert_eq!(String::from_utf8_lossy(&body), want);
        assert!(head.contains(&format!("Content-Length: {}", want.len())), "{head}");
        assert!(head.contains("Content-Type: text/xml") && head.contains("Connection: close"), "{head}");
    }
}
