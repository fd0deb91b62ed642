//! A link kept up in the background: `up` starts the daemon (`serve`),
//! which answers on its control socket until `down` or a signal.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use visio_linkem::control::{self, Reply, Request, Status};
use visio_linkem::{Direction, Error, Link, Side};

use crate::cli::{UpArgs, link_params};
use crate::show::print_status;

/// `up`: starts `visio-linkem serve` detached, then waits until its control
/// socket answers (or it exits, and then shows why).
pub(crate) fn up(args: &UpArgs) -> Result<ExitCode, Error> {
    link_params(&args.profile, &args.params)?; // refuse bad options here, not in the log
    if let Ok(status) = control::request(&args.name, &Request::Status { reset: false }) {
        return Err(Error::AlreadyUp {
            name: args.name.clone(),
            pid: status.pid,
        });
    }
    std::fs::create_dir_all(control::STATE_DIR)
        .map_err(|e| Error::io(format!("creating {}", control::STATE_DIR), e))?;
    let log_path = control::log_path(&args.name);
    let log = std::fs::File::create(&log_path)
        .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
    let exe = std::env::current_exe().map_err(|e| Error::io("finding our own executable", e))?;
    // Same arguments, `serve` instead of `up`.
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = argv.iter_mut().find(|a| *a == "up") {
        *first = "serve".to_string();
    }
    let log_err = log
        .try_clone()
        .map_err(|e| Error::io("duplicating the log file", e))?;
    let mut child = std::process::Command::new(exe)
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Its own process group: a Ctrl-C in this terminal does not stop it.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("starting the link daemon", e))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(status) = control::request(&args.name, &Request::Status { reset: false }) {
            print_status(&status);
            println!(
                "\nrun things on a side:  ip netns exec {} <command>",
                status.kiosk_namespace
            );
            println!(
                "change it:             visio-linkem set --name {0} --rate-up 300k;  visio-linkem cut --name {0} 10s",
                status.name
            );
            println!(
                "stop it:               visio-linkem down --name {}",
                status.name
            );
            return Ok(ExitCode::SUCCESS);
        }
        if let Ok(Some(exit)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(Error::Control {
                name: args.name.clone(),
                detail: format!("the link daemon exited ({exit}): {}", log.trim()),
            });
        }
        if Instant::now() > deadline {
            return Err(Error::Control {
                name: args.name.clone(),
                detail: format!("not answering after 20 s; see {}", log_path.display()),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The daemon: owns the link, answers on the control socket, tears down on
/// `down`, SIGTERM, SIGINT or SIGHUP.
pub(crate) fn serve(args: &UpArgs) -> Result<ExitCode, Error> {
    let (profile, params, pure) = link_params(&args.profile, &args.params)?;
    let mut builder = Link::builder()
        .name(&args.name)
        .seed(args.seed)
        .params(params);
    if pure {
        builder = builder.profile(profile);
    }
    let link = builder.start()?;
    let socket = control::socket_path(&args.name);
    let _ = std::fs::remove_file(&socket); // a stale one from a killed daemon
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("building the daemon's runtime", e))?;
    let result = rt.block_on(daemon(&link, &socket));
    let _ = std::fs::remove_file(&socket);
    let final_status = status_of(&link);
    drop(link);
    println!("link {} down; final counters:", args.name);
    print_status(&final_status);
    result.map(|()| ExitCode::SUCCESS)
}

fn status_of(link: &Link) -> Status {
    Status {
        name: link.name().to_string(),
        pid: std::process::id(),
        profile: link.profile(),
        kiosk_namespace: link.namespace(Side::Kiosk).to_string(),
        hub_namespace: link.namespace(Side::Hub).to_string(),
        kiosk_addr: link.kiosk_addr(),
        hub_addr: link.hub_addr(),
        params: link.params(),
        counters: visio_linkem::LinkCounters {
            up: link.counters(Direction::Up),
            down: link.counters(Direction::Down),
        },
        cut: link.is_cut(),
    }
}

async fn daemon(link: &Link, socket: &Path) -> Result<(), Error> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::signal::unix::{SignalKind, signal};

    let listener = tokio::net::UnixListener::bind(socket).map_err(|e| {
        Error::io(
            format!("binding the control socket {}", socket.display()),
            e,
        )
    })?;
    let sig = |kind| signal(kind).map_err(|e| Error::io("installing a signal handler", e));
    let (mut term, mut int, mut hup) = (
        sig(SignalKind::terminate())?,
        sig(SignalKind::interrupt())?,
        sig(SignalKind::hangup())?,
    );
    println!(
        "link {} up: kiosk {} in {}, hub {} in {}",
        link.name(),
        link.kiosk_addr(),
        link.namespace(Side::Kiosk),
        link.hub_addr(),
        link.namespace(Side::Hub)
    );
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => return Ok(()),
        };
        let Ok((stream, _)) = conn else { continue };
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        if BufReader::new(read).read_line(&mut line).await.is_err() {
            continue;
        }
        let (reply, stop) = match serde_json::from_str::<Request>(&line) {
            Err(e) => (
                Reply::Error {
                    message: format!("bad request: {e}"),
                },
                false,
            ),
            Ok(req) => {
                let stop = matches!(req, Request::Down);
                (handle(link, req), stop)
            }
        };
        let mut out = serde_json::to_string(&reply).expect("replies serialise");
        out.push('\n');
        let _ = write.write_all(out.as_bytes()).await;
        if stop {
            return Ok(());
        }
    }
}

fn handle(link: &Link, req: Request) -> Reply {
    let result = match req {
        Request::Status { reset } => {
            let status = status_of(link);
            if reset {
                link.reset_counters();
            }
            return Reply::Ok {
                status: Box::new(status),
            };
        }
        Request::Set { params, profile } => match profile {
            Some(p) if p.params() == *params => link.set_profile(p),
            _ => link
                .set(Direction::Up, params.up)
                .and_then(|()| link.set(Direction::Down, params.down)),
        },
        Request::Cut { millis } => link.cut(Duration::from_millis(millis)),
        Request::Restore => {
            link.restore();
            Ok(())
        }
        Request::Down => Ok(()),
    };
    match result {
        Ok(()) => Reply::Ok {
            status: Box::new(status_of(link)),
        },
        Err(e) => Reply::Error {
            message: e.to_string(),
        },
    }
}

pub(crate) fn down(name: &str) -> Result<ExitCode, Error> {
    match control::request(name, &Request::Down) {
        Ok(status) => {
            // The daemon tears down after replying: wait for it to finish.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Side::ALL
                .iter()
                .any(|s| visio_linkem::namespace_exists(name, *s))
            {
                if Instant::now() > deadline {
                    return Err(Error::Control {
                        name: name.to_string(),
                        detail: format!(
                            "its namespaces are still there after 10 s; see {}",
                            control::log_path(name).display()
                        ),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            println!("link {name} is down; final counters:");
            print_status(&status);
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::NotRunning { .. }) => {
            // No daemon: clean up after one that was killed.
            let _ = std::fs::remove_file(control::socket_path(name));
            if visio_linkem::remove_leftover(name)? {
                println!("link {name}: its daemon was gone; namespaces deleted");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Error::NotRunning {
                    name: name.to_string(),
                    path: control::socket_path(name),
                })
            }
        }
        Err(e) => Err(e),
    }
}
