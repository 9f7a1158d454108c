//! `cloud-api-simulator [--host 127.0.0.1] [--port 8789] [--token T]`: serves the
//! WhatsApp Cloud API simulator on a loopback address.
#![deny(missing_docs)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;

use cloud_api_simulator::{serve, Config, DEFAULT_PORT};

const USAGE: &str = "usage: cloud-api-simulator [--host 127.0.0.1] [--port 8789] [--token TOKEN]

Serves a fake WhatsApp Cloud API send endpoint on a loopback address.
  --host   loopback address to bind (127.0.0.1, ::1 or localhost)
  --port   port to bind; 0 picks a free one (default 8789)
  --token  bearer token the send endpoint requires (default: none required)
Control API: GET /_sim/health, GET|DELETE /_sim/messages, GET|POST|DELETE /_sim/faults";

struct Args {
    host: IpAddr,
    port: u16,
    token: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: DEFAULT_PORT,
        token: None,
    };
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--host" => {
                let host = value("--host")?;
                parsed.host = if host == "localhost" {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    host.parse()
                        .map_err(|_| format!("--host: not an IP address: {host}"))?
                };
                if !parsed.host.is_loopback() {
                    return Err(format!("--host: refusing non-loopback address {host}"));
                }
            }
            "--port" => {
                let port = value("--port")?;
                parsed.port = port
                    .parse()
                    .map_err(|_| format!("--port: not a port: {port}"))?;
            }
            "--token" => parsed.token = Some(value("--token")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("cloud-api-simulator: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(SocketAddr::new(args.host, args.port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "cloud-api-simulator: cannot bind {}:{}: {e}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        token: args.token,
        log: true,
    };
    match serve(listener, config) {
        Ok(handle) => {
            println!("cloud-api-simulator listening on {}", handle.url());
            let _ = std::io::stdout().flush();
            handle.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cloud-api-simulator: {e}");
            ExitCode::FAILURE
        }
    }
}
