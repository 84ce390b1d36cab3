//! `lathe serve` end to end: the real binary on an ephemeral port, spoken to with a small
//! HTTP/1.1 client over a TCP socket (so the tests can also send what no polite client would:
//! a wrong Host, a broken multipart body, a connection cut mid upload).
//!
//! Masters are checked as the CLI's are: true peak by `ebur128` (not lathe's meter) at or under
//! the ceiling, and the bytes equal to `lathe match` with the same settings.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report_signals::*;

/// 2^17 frames at 44.1 kHz: 3 s, quick to master.
const FRAMES: usize = 1 << 17;

struct Server {
    child: Child,
    addr: SocketAddr,
    data_dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lathe"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "lathe serve: open http://127.0.0.1:PORT/ (Ctrl-C stops it)"
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .parse()
            .unwrap();
        Server {
            child,
            addr,
            data_dir,
        }
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &self.host(), &[], &[])
    }

    fn delete(&self, path: &str) -> Response {
        request(self.addr, "DELETE", path, &self.host(), &[], &[])
    }

    fn post(&self, parts: &[Part]) -> Response {
        let (ctype, body) = multipart(parts);
        request(
            self.addr,
            "POST",
            "/api/jobs",
            &self.host(),
            &[("Content-Type", &ctype)],
            &body,
        )
    }

    /// Polls a job until it is done or failed.
    fn wait(&self, id: &str) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let s = self.get(&format!("/api/jobs/{id}")).json();
            let state = s["state"].as_str().unwrap().to_string();
            if state == "done" || state == "failed" {
                return s;
            }
            let p = s["progress"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p), "progress {p}");
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "job {id} still {state} after 300 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every file under the data dir (the run folder's job folders and their files).
    fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.data_dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p.clone());
                }
                out.push(p);
            }
        }
        out.sort();
        out
    }

    /// Job folders under the data dir.
    fn job_dirs(&self) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("job-"))
            .collect()
    }

    /// Peak resident memory of the server process so far (Linux), MB.
    fn peak_rss_mb(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }

    /// SIGTERM, and wait for the process to end.
    fn stop(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "server did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), whole response read.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += &format!("Content-Length: {}\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before the whole body is sent.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..eol])
                    .split(';')
                    .next()
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            rest = &rest[eol + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    Response {
        status,
        headers,
        body,
    }
}

enum Part<'a> {
    File(&'a str, &'a str, Vec<u8>),
    Text(&'a str, &'a str),
}

const BOUNDARY: &str = "lathe-test-boundary-7d3f";

fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match p {
            Part::File(name, file, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// A quiet mix and a bright, loud reference, written as 24-bit WAVs.
fn signals(dir: &Path) -> (PathBuf, PathBuf) {
    let mix = dir.join("mix.wav");
    let reference = dir.join("reference.wav");
    write_wav(
        &mix,
        &programme(FRAMES, 3, -24.0, |f| bump(f, 250.0, 4.0, 1.0)),
    );
    write_wav(
        &reference,
        &programme(FRAMES, 4, -11.0, |f| shelf_up(f, 4000.0, 3.0)),
    );
    (mix, reference)
}

/// True peak of a WAV file by ebur128, dBTP.
fn true_peak_of(path: &Path) -> f64 {
    let audio = lathe::io::decode::decode_file(path).unwrap();
    measure(&audio.channels, audio.sample_rate_hz).1
}

fn accepted_id(r: &Response) -> String {
    assert_eq!(r.status, 202, "POST refused: {}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

#[test]
fn a_reference_job_masters_like_lathe_match_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, reference) = signals(dir.path());
    let server = Server::start(&["--jobs", "1"]);
    let r = server.post(&[
        Part::File("mix", "My Mix.wav", std::fs::read(&mix).unwrap()),
        Part::File("reference", "ref.wav", std::fs::read(&reference).unwrap()),
        Part::Text("lufs", "-13"),
        Part::Text("ceiling", "-1.2"),
        Part::Text("amount", "80"),
        Part::Text("bits", "16"),
    ]);
    let id = accepted_id(&r);
    // 128 random bits as hex: nothing from the client.
    assert_eq!(id.len(), 32);
    let status = server.wait(&id);
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["progress"], 1.0);
    let result = &status["result"];
    assert_eq!(result["source"]["kind"], "reference");

    let master = server.get(&format!("/api/jobs/{id}/master"));
    assert_eq!(master.status, 200);
    assert_eq!(master.header("content-type"), Some("audio/wav"));
    assert!(master
        .header("content-disposition")
        .unwrap()
        .contains("My Mix.master.wav"));
    let served = dir.path().join("served.wav");
    std::fs::write(&served, &master.body).unwrap();
    let tp = true_peak_of(&served);
    assert!(tp <= -1.2, "served master true peak {tp} dBTP above -1.2");

    let cli = dir.path().join("cli.wav");
    let out = Command::new(env!("CARGO_BIN_EXE_lathe"))
        .arg("match")
        .args([&mix, &reference])
        .arg("-o")
        .arg(&cli)
        .args([
            "--lufs",
            "-13",
            "--ceiling",
            "-1.2",
            "--amount",
            "80",
            "--bits",
            "16",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(&cli).unwrap() == master.body,
        "the served master differs from `lathe match` with the same settings"
    );

    let report = server.get(&format!("/api/jobs/{id}/report.json")).json();
    let after = result["after"]["integrated_lufs"].as_f64().unwrap();
    assert!(
        (after + 13.0).abs() <= 0.15,
        "after {after} LUFS, target -13"
    );
    assert!(report.is_object());
    let html = server.get(&format!("/api/jobs/{id}/report.html"));
    assert_eq!(html.status, 200);
    assert!(html.text().contains("<html"));
    for preview in ["preview-mix", "preview-master"] {
        let p = server.get(&format!("/api/jobs/{id}/{preview}"));
        assert_eq!(p.status, 200, "{preview}");
        assert!(p.body.starts_with(b"RIFF"), "{preview} is not a WAV");
    }
    // The uploaded mix comes back as it was (the page's A/B player decodes it).
    assert_eq!(
        server.get(&format!("/api/jobs/{id}/mix")).body,
        std::fs::read(&mix).unwrap()
    );
}

#[test]
fn genre_jobs_chosen_and_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, _) = signals(dir.path());
    let server = Server::start(&["--jobs", "2"]);
    let bytes = std::fs::read(&mix).unwrap();
    let chosen = accepted_id(&server.post(&[
        Part::File("mix", "a.wav", bytes.clone()),
        Part::Text("genre", "rock"),
        Part::Text("format", "flac"),
    ]));
    let auto = accepted_id(&server.post(&[Part::File("mix", "b.wav", bytes)]));
    let chosen = server.wait(&chosen);
    let auto = server.wait(&auto);
    assert_eq!(chosen["state"], "done", "{chosen}");
    assert_eq!(auto["state"], "done", "{auto}");
    assert_eq!(chosen["result"]["source"]["genre"], "rock-metal");
    assert!(chosen["result"]["detected_genre"].is_null());
    assert!(auto["result"]["detected_genre"]["genre"].is_string());
    for (s, ext) in [(&chosen, "flac"), (&auto, "wav")] {
        let id = s["id"].as_str().unwrap();
        let m = server.get(&format!("/api/jobs/{id}/master"));
        assert_eq!(m.status, 200);
        let path = dir.path().join(format!("{id}.{ext}"));
        std::fs::write(&path, &m.body).unwrap();
        // Default ceiling -1 dBTP, by an independent meter.
        let tp = true_peak_of(&path);
        assert!(tp <= -1.0, "{ext} master true peak {tp} dBTP");
    }
}

#[test]
fn bad_requests_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, _) = signals(dir.path());
    let server = Server::start(&["--max-upload-mb", "1"]);

    // Over the limit (the mix is 3 s of 24-bit stereo: 0.8 MB; twice that is over 1 MB).
    let mut big = std::fs::read(&mix).unwrap();
    big.extend_from_slice(&std::fs::read(&mix).unwrap());
    let r = server.post(&[Part::File("mix", "big.wav", big.clone())]);
    assert_eq!(r.status, 413, "{}", r.text());
    // Also when the client hides the size (chunked): counted while streaming.
    let (ctype, body) = multipart(&[Part::File("mix", "big.wav", big)]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: {ctype}\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        server.host()
    );
    s.write_all(head.as_bytes()).unwrap();
    for chunk in body.chunks(64 * 1024) {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert_eq!(parse_response(&raw).status, 413);

    // Not audio: 400 with lathe's own error text, naming the client's file, not the server's.
    let r = server.post(&[Part::File(
        "mix",
        "notes.wav",
        b"this is not a RIFF file".to_vec(),
    )]);
    assert_eq!(r.status, 400);
    let err = r.json()["error"].as_str().unwrap().to_string();
    assert!(err.contains("is not an audio file"), "{err}");
    assert!(err.contains("notes.wav"), "{err}");
    assert!(
        !err.contains(&server.data_dir.path().display().to_string()),
        "{err}"
    );

    // Bad settings and missing parts: 400.
    let wav = std::fs::read(&mix).unwrap();
    let mix_and = |name, value| {
        vec![
            Part::File("mix", "m.wav", wav.clone()),
            Part::Text(name, value),
        ]
    };
    for (parts, needle) in [
        (vec![Part::Text("genre", "rock")], "no 'mix'"),
        (mix_and("genre", "polka-step"), "polka"),
        (mix_and("ceiling", "3"), "ceiling"),
        (mix_and("amount", "x"), "not a number"),
        (mix_and("path", "/etc/passwd"), "unknown field"),
    ] {
        let r = server.post(&parts);
        assert_eq!(r.status, 400, "{needle}: {}", r.text());
        assert!(r.text().contains(needle), "{needle}: {}", r.text());
    }

    // Malformed multipart: a body that stops inside a part.
    let r = request(
        server.addr,
        "POST",
        "/api/jobs",
        &server.host(),
        &[("Content-Type", &format!("multipart/form-data; boundary={BOUNDARY}"))],
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"mix\"; filename=\"a.wav\"\r\n\r\nRIFF")
            .as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text());

    // A client that disconnects mid upload.
    let (ctype, body) = multipart(&[Part::File("mix", "cut.wav", wav)]);
    {
        let mut s = TcpStream::connect(server.addr).unwrap();
        let head = format!(
            "POST /api/jobs HTTP/1.1\r\nHost: {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            server.host(),
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body[..body.len() / 2]).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }

    // Wrong Host (DNS rebinding) and a cross-origin write.
    let r = request(server.addr, "GET", "/", "evil.example:80", &[], &[]);
    assert_eq!(r.status, 403);
    let r = request(
        server.addr,
        "GET",
        "/api/jobs",
        &format!("rebind.example:{}", server.addr.port()),
        &[],
        &[],
    );
    assert_eq!(r.status, 403);
    let r = request(
        server.addr,
        "DELETE",
        "/api/jobs/0",
        &server.host(),
        &[("Origin", "http://evil.example")],
        &[],
    );
    assert_eq!(r.status, 403);
    // The right names pass.
    let page = request(
        server.addr,
        "GET",
        "/",
        &format!("localhost:{}", server.addr.port()),
        &[],
        &[],
    );
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<script src=\"/app.js\">"));
    assert_eq!(server.get("/app.js").status, 200);
    assert_eq!(server.get("/api/jobs/../../etc/passwd").status, 404);
    assert_eq!(server.get("/api/jobs/0123/master").status, 404);

    // None of it left a file, and the server still works.
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.job_dirs().is_empty(), "{:?}", server.files());
    assert_eq!(server.get("/api/jobs").json(), serde_json::json!([]));
}

#[test]
fn eight_concurrent_jobs_on_two_workers_finish_or_get_503_and_delete_and_stop_clean_up() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, reference) = signals(dir.path());
    let mut server = Server::start(&["--jobs", "2", "--queue", "3"]);
    let (mix, reference) = (
        std::fs::read(&mix).unwrap(),
        std::fs::read(&reference).unwrap(),
    );
    let responses: Vec<Response> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (server, mix, reference) = (&server, &mix, &reference);
                s.spawn(move || {
                    let name = format!("mix{i}.wav");
                    server.post(&[
                        Part::File("mix", &name, mix.clone()),
                        Part::File("reference", "ref.wav", reference.clone()),
                    ])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ids = Vec::new();
    let mut busy = 0;
    for r in &responses {
        match r.status {
            202 => ids.push(r.json()["id"].as_str().unwrap().to_string()),
            503 => busy += 1,
            other => panic!("HTTP {other}: {}", r.text()),
        }
    }
    assert!(!ids.is_empty());
    assert_eq!(
        ids.len() + busy,
        8,
        "every request answered: accepted or 503"
    );
    // Until all are done: never more than 2 running, nor more than 2 + 3 admitted.
    let start = Instant::now();
    loop {
        let all = server.get("/api/jobs").json();
        let count = |state: &str| {
            all.as_array()
                .unwrap()
                .iter()
                .filter(|j| j["state"] == state)
                .count()
        };
        let (running, queued) = (count("running"), count("queued"));
        assert!(running <= 2, "{running} running with --jobs 2");
        assert!(running + queued <= 5, "{running} running + {queued} queued");
        if count("done") + count("failed") == ids.len() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "jobs not finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut masters = Vec::new();
    for id in &ids {
        let s = server.wait(id);
        assert_eq!(s["state"], "done", "{s}");
        masters.push(server.get(&format!("/api/jobs/{id}/master")).body);
    }
    // Same input, same settings: the same bytes, whichever worker ran it.
    assert!(masters.windows(2).all(|w| w[0] == w[1]));
    let peak = server.peak_rss_mb();
    eprintln!(
        "load: 8 concurrent jobs, --jobs 2 --queue 3: {} done, {busy} got 503; server peak \
         RSS {peak:?} MB",
        ids.len()
    );
    // Bounded: two renders of a 3 s mix (plus the model and buffers) stay far below this.
    if let Some(mb) = peak {
        assert!(mb < 1024.0, "server peak RSS {mb} MB");
    }

    // Delete removes the job and its files.
    let first = &ids[0];
    let before = server.job_dirs().len();
    assert_eq!(before, ids.len());
    assert_eq!(server.delete(&format!("/api/jobs/{first}")).status, 204);
    assert_eq!(server.get(&format!("/api/jobs/{first}")).status, 404);
    assert_eq!(server.get(&format!("/api/jobs/{first}/master")).status, 404);
    assert_eq!(server.job_dirs().len(), before - 1);
    assert_eq!(server.delete(&format!("/api/jobs/{first}")).status, 404);

    // Stopped mid job: SIGTERM while one runs leaves nothing behind.
    let id = accepted_id(&server.post(&[
        Part::File("mix", "last.wav", mix),
        Part::File("reference", "ref.wav", reference),
    ]));
    let start = Instant::now();
    while server.get(&format!("/api/jobs/{id}")).json()["state"] == "queued"
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = server.stop();
    assert!(status.success(), "{status}");
    assert!(server.files().is_empty(), "{:?}", server.files());
}

#[test]
fn finished_jobs_expire_after_the_time_to_live() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, _) = signals(dir.path());
    // 0.02 min = 1.2 s.
    let server = Server::start(&["--ttl-minutes", "0.02"]);
    let id = accepted_id(&server.post(&[
        Part::File("mix", "m.wav", std::fs::read(&mix).unwrap()),
        Part::Text("genre", "electronic"),
    ]));
    assert_eq!(server.wait(&id)["state"], "done");
    let start = Instant::now();
    while server.get(&format!("/api/jobs/{id}")).status != 404 {
        assert!(start.elapsed() < Duration::from_secs(20), "not expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.job_dirs().is_empty(), "{:?}", server.files());
}

#[test]
fn a_style_profile_job_masters_exactly_as_its_one_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, reference) = signals(dir.path());
    let style = dir.path().join("style.json");
    let out = Command::new(env!("CARGO_BIN_EXE_lathe"))
        .arg("profile")
        .arg(&reference)
        .arg("-o")
        .arg(&style)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&["--jobs", "2"]);
    let mix = std::fs::read(&mix).unwrap();
    let by_reference = accepted_id(&server.post(&[
        Part::File("mix", "m.wav", mix.clone()),
        Part::File("reference", "r.wav", std::fs::read(&reference).unwrap()),
    ]));
    let by_profile = accepted_id(&server.post(&[
        Part::File("mix", "m.wav", mix.clone()),
        Part::File("profile", "style.json", std::fs::read(&style).unwrap()),
    ]));
    for id in [&by_reference, &by_profile] {
        let s = server.wait(id);
        assert_eq!(s["state"], "done", "{s}");
    }
    let a = server.get(&format!("/api/jobs/{by_reference}/master")).body;
    let b = server.get(&format!("/api/jobs/{by_profile}/master")).body;
    assert!(
        a.len() > 1000 && a == b,
        "profile master differs from reference master"
    );
    // A profile that is not one: 400 naming the client's file.
    let r = server.post(&[
        Part::File("mix", "m.wav", mix),
        Part::File("profile", "bogus.json", b"{\"format\": 3}".to_vec()),
    ]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("bogus.json"), "{}", r.text());
}
