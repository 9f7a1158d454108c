//! The HTTP server: a few worker threads over one `tiny_http` listener.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tiny_http::{Header, Response, Server};

use crate::{Config, SimRequest, Simulator, MAX_BODY};

/// Worker threads, hence requests answered at once (a timeout fault holds one).
pub const WORKERS: usize = 32;

/// How often idle workers check for shutdown.
const POLL: Duration = Duration::from_millis(100);

/// A running server. Dropping it stops the server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    simulator: Arc<Simulator>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulator behind the server, to inspect state directly.
    pub fn simulator(&self) -> &Arc<Simulator> {
        &self.simulator
    }

    /// Blocks until the server stops (which it does only when dropped elsewhere: never).
    pub fn wait(mut self) {
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }
}

/// Serves the simulator on `listener`, which must be bound to a loopback address
/// (bind port 0 and read [`ServerHandle::addr`] for an ephemeral port).
pub fn serve(listener: TcpListener, config: Config) -> io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to serve on non-loopback address {addr}"),
        ));
    }
    let server = Arc::new(Server::from_listener(listener, None).map_err(io::Error::other)?);
    let simulator = Arc::new(Simulator::new(config));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handle = ServerHandle {
        addr,
        simulator,
        stop,
        workers: Vec::with_capacity(WORKERS),
    };
    for i in 0..WORKERS {
        let (server, simulator, stop) = (
            server.clone(),
            handle.simulator.clone(),
            handle.stop.clone(),
        );
        let worker = thread::Builder::new()
            .name(format!("sim-worker-{i}"))
            .spawn(move || work(&server, &simulator, &stop))?;
        handle.workers.push(worker);
    }
    Ok(handle)
}

fn work(server: &Server, simulator: &Arc<Simulator>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match server.recv_timeout(POLL) {
            Ok(Some(request)) => answer(simulator, request),
            Ok(None) => {}
            Err(_) => thread::sleep(POLL),
        }
    }
}

fn answer(simulator: &Arc<Simulator>, mut request: tiny_http::Request) {
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body);
    if read.is_err() {
        let _ = request.respond(Response::empty(400));
        return;
    }
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_owned());
    let sim_request = SimRequest {
        method: request.method().as_str().to_owned(),
        url: request.url().to_owned(),
        authorization,
        body,
    };
    let mut reply = simulator.handle(&sim_request);
    if !reply.delay.is_zero() {
        thread::sleep(reply.delay);
    }
    let after = std::mem::take(&mut reply.after);
    if reply.drop {
        // Accepted and recorded, but the caller gets a broken answer and a closed
        // connection: it cannot tell whether the message went out.
        let mut writer = request.into_writer();
        let _ = writer.write_all(b"\0dropped by the simulator\r\n\r\n");
        let _ = writer.flush();
        drop(writer);
        if !after.is_empty() {
            deliver_later(simulator.clone(), after);
        }
        return;
    }
    let mut response = Response::from_data(reply.body).with_status_code(reply.status);
    if let Ok(header) = Header::from_bytes("Content-Type", reply.content_type) {
        response = response.with_header(header);
    }
    let _ = request.respond(response);
    if !after.is_empty() {
        deliver_later(simulator.clone(), after);
    }
}

/// Status webhooks go out in order, after the send was answered, like Meta's.
fn deliver_later(simulator: Arc<Simulator>, webhooks: Vec<crate::PendingWebhook>) {
    let gap = Duration::from_millis(simulator.status_gap_ms());
    let spawned = thread::Builder::new()
        .name("sim-webhooks".into())
        .spawn(move || {
            for webhook in &webhooks {
                thread::sleep(gap);
                simulator.deliver(webhook);
            }
        });
    if let Err(e) = spawned {
        eprintln!("cloud-api-simulator: cannot start a webhook thread: {e}");
    }
}
