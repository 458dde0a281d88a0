//! Binding listeners the way nats-server's Go sockets behave.
//!
//! `0.0.0.0` (or an empty host) binds the IPv6 wildcard with IPV6_V6ONLY off when the host
//! has IPv6, so `[::1]` clients reach a server told to listen on 0.0.0.0, as with Go's
//! dual-stack sockets. SO_REUSEADDR is set so a restart can bind the port at once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

const BACKLOG: i32 = 1024;

pub fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let wildcard = host.is_empty() || host == "0.0.0.0";
    if wildcard {
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
        if let Ok(l) = bind_addr(v6, true) {
            return Ok(l);
        }
        return bind_addr(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            false,
        );
    }
    let addr = resolve(host, port)?;
    bind_addr(addr, false)
}

fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (trimmed, port).to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("no address for {host}"),
        )
    })
}

fn bind_addr(addr: SocketAddr, dual_stack: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// A host as it appears in a URL or a `host:port` log line: IPv6 in brackets.
pub fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}
