//! Service guesses for open ports: from what the port said first (its banner) when it said
//! anything recognisable, else from the port number's usual assignment.

/// The guessed service and where the guess came from (`banner` or `port`).
pub fn guess(port: u16, banner: &[u8]) -> Option<(&'static str, &'static str)> {
    from_banner(banner)
        .map(|s| (s, "banner"))
        .or_else(|| from_port(port).map(|s| (s, "port")))
}

fn from_banner(b: &[u8]) -> Option<&'static str> {
    let upper = String::from_utf8_lossy(&b[..b.len().min(128)]).to_ascii_uppercase();
    Some(if b.starts_with(b"SSH-") {
        "ssh"
    } else if b.starts_with(b"HTTP/") {
        "http"
    } else if b.starts_with(b"RFB ") {
        "vnc"
    } else if b.starts_with(b"+OK") {
        "pop3"
    } else if b.starts_with(b"* OK") || b.starts_with(b"* PREAUTH") {
        "imap"
    } else if b.starts_with(b"220") && upper.contains("FTP") {
        "ftp"
    } else if b.starts_with(b"220") && (upper.contains("SMTP") || upper.contains("MAIL")) {
        "smtp"
    } else if b.starts_with(b"-ERR") || b.starts_with(b"-NOAUTH") {
        "redis"
    } else if b.starts_with(b"AMQP") {
        "amqp"
    } else if b.first() == Some(&0x16) && b.get(1) == Some(&0x03) {
        // A TLS record (handshake) sent unprompted.
        "tls"
    } else if b.len() > 5 && b[3] == 0 && b[4] == 10 {
        // MySQL's initial handshake: 3-byte length, sequence 0, protocol version 10.
        "mysql"
    } else if b.starts_with(b"220") {
        "ftp"
    } else {
        return None;
    })
}

/// The usual service of a port.
pub fn from_port(port: u16) -> Option<&'static str> {
    Some(match port {
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 | 465 | 587 => "smtp",
        53 => "dns",
        80 | 81 | 8000 | 8008 | 8080 | 8081 | 8888 => "http",
        110 | 995 => "pop3",
        111 => "rpcbind",
        135 => "msrpc",
        139 | 445 => "smb",
        143 | 993 => "imap",
        389 => "ldap",
        636 => "ldaps",
        443 | 4443 | 8443 | 9443 => "https",
        1433 => "mssql",
        1521 => "oracle",
        1883 => "mqtt",
        2049 => "nfs",
        2375 | 2376 => "docker",
        3306 => "mysql",
        3389 => "rdp",
        5432 => "postgresql",
        5672 => "amqp",
        5900..=5903 => "vnc",
        6379 => "redis",
        6443 | 10250 => "kubernetes",
        9092 => "kafka",
        9200 => "elasticsearch",
        11211 => "memcached",
        27017 => "mongodb",
        _ => return None,
    })
}

/// Whether a port usually speaks TLS from the first byte.
pub fn usually_tls(port: u16) -> bool {
    matches!(
        port,
        443 | 465
            | 636
            | 853
            | 990
            | 992
            | 993
            | 995
            | 2376
            | 4443
            | 5061
            | 6443
            | 8443
            | 9443
            | 10250
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_beat_port_numbers() {
        assert_eq!(
            guess(2222, b"SSH-2.0-OpenSSH_9.6\r\n"),
            Some(("ssh", "banner"))
        );
        assert_eq!(guess(22, b""), Some(("ssh", "port")));
        assert_eq!(
            guess(8080, b"HTTP/1.1 400 Bad Request"),
            Some(("http", "banner"))
        );
        assert_eq!(
            guess(2121, b"220 ProFTPD Server ready"),
            Some(("ftp", "banner"))
        );
        assert_eq!(
            guess(2525, b"220 mx.example ESMTP Postfix"),
            Some(("smtp", "banner"))
        );
        assert_eq!(guess(40000, b"hello"), None);
        assert!(usually_tls(443) && !usually_tls(80));
    }
}
