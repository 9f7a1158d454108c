//! `cloud-api-simulator [--host 127.0.0.1] [--port 8789] [--token T]
//! [--webhook-url URL --app-secret S] [--status-gap-ms N] [--template-approval-ms N]`: serves the WhatsApp
//! Cloud API simulator on a loopback address.
#![deny(missing_docs)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;

use cloud_api_simulator::{serve, Config, WebhookTarget, DEFAULT_PORT};

const USAGE: &str = "usage: cloud-api-simulator [--host 127.0.0.1] [--port 8789] [--token TOKEN]
         [--webhook-url http://127.0.0.1:8787/webhooks/whatsapp --app-secret SECRET]
         [--status-gap-ms 20] [--template-approval-ms 200]

Serves a fake WhatsApp Cloud API send endpoint on a loopback address.
  --host   loopback address to bind (127.0.0.1, ::1 or localhost)
  --port   port to bind; 0 picks a free one (default 8789)
  --token  bearer token the send endpoint requires (default: none required)
  --webhook-url    loopback URL to deliver signed status and inbound webhooks to
  --app-secret     app secret that signs them (X-Hub-Signature-256); needs --webhook-url
  --status-gap-ms  pause before each status webhook of a send (default 20)
  --template-approval-ms  how long a created template stays PENDING before review (default 200)
Control API: GET /_sim/health, GET|DELETE /_sim/messages, GET|POST|DELETE /_sim/faults,
  GET|POST|DELETE /_sim/statuses, POST /_sim/inbound, GET|DELETE /_sim/webhooks";

struct Args {
    host: IpAddr,
    port: u16,
    token: Option<String>,
    webhook_url: Option<String>,
    app_secret: Option<String>,
    status_gap_ms: u64,
    template_approval_ms: u64,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: DEFAULT_PORT,
        token: None,
        webhook_url: None,
        app_secret: None,
        status_gap_ms: 20,
        template_approval_ms: 200,
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
            "--webhook-url" => parsed.webhook_url = Some(value("--webhook-url")?),
            "--app-secret" => parsed.app_secret = Some(value("--app-secret")?),
            "--status-gap-ms" => {
                let ms = value("--status-gap-ms")?;
                parsed.status_gap_ms = ms
                    .parse()
                    .ok()
                    .filter(|ms| *ms <= 60_000)
                    .ok_or(format!("--status-gap-ms: not 0 to 60000: {ms}"))?;
            }
            "--template-approval-ms" => {
                let ms = value("--template-approval-ms")?;
                parsed.template_approval_ms = ms
                    .parse()
                    .ok()
                    .filter(|ms| *ms <= 3_600_000)
                    .ok_or(format!("--template-approval-ms: not 0 to 3600000: {ms}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

fn webhook_target(args: &Args) -> Result<Option<WebhookTarget>, String> {
    match (&args.webhook_url, &args.app_secret) {
        (None, None) => Ok(None),
        (Some(url), Some(secret)) => WebhookTarget::parse(url, secret).map(Some),
        _ => Err("--webhook-url and --app-secret go together".into()),
    }
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
    let webhook = match webhook_target(&args) {
        Ok(webhook) => webhook,
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
        webhook,
        status_gap_ms: args.status_gap_ms,
        template_approval_ms: args.template_approval_ms,
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
