//! A minimal keep-alive HTTP/1.1 client for loopback load: one `GET` at a time per connection,
//! no redirects followed, `Content-Length` and chunked bodies. Written on tokio's `readable` /
//! `try_read` so it needs no more than tokio's `net` feature, and no HTTP client crate between the
//! clients and the socket.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A response: status, body, and whether the server closes the connection after it.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    pub close: bool,
}

/// One persistent connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: Vec::with_capacity(16 * 1024) })
    }

    /// Sends `GET path` and reads the whole response.
    pub async fn get(&mut self, host: &str, path: &str, user_agent: &str) -> io::Result<Response> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\nAccept-Encoding: identity\r\n\r\n"
        );
        self.write_all(request.as_bytes()).await?;
        self.read_response().await
    }

    async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Appends what the socket has to `buf`; `Ok(0)` at end of stream.
    async fn read_more(&mut self) -> io::Result<usize> {
        loop {
            self.stream.readable().await?;
            let len = self.buf.len();
            self.buf.resize(len + 16 * 1024, 0);
            let result = self.stream.try_read(&mut self.buf[len..]);
            self.buf.truncate(len + *result.as_ref().unwrap_or(&0));
            match result {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until `buf` holds at least `len` bytes.
    async fn fill(&mut self, len: usize) -> io::Result<()> {
        while self.buf.len() < len {
            if self.read_more().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// Reads until `buf` has `\r\n` at or after `from`; its position.
    async fn line_end(&mut self, from: usize) -> io::Result<usize> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n", from) {
                return Ok(end);
            }
            if self.buf.len() - from > MAX_HEAD {
                return Err(invalid("line too long"));
            }
            if self.read_more().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        let head_end = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n", 0) {
                break end + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("response head too large"));
            }
            if self.read_more().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| invalid("head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 =
            status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| invalid("bad status line"))?;
        let mut content_length = None;
        let mut chunked = false;
        let mut close = status_line.starts_with("HTTP/1.0");
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.parse::<usize>().map_err(|_| invalid("bad content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let no_body = (100..200).contains(&status) || status == 204 || status == 304;
        let (body, consumed) = if no_body {
            (Vec::new(), head_end)
        } else if chunked {
            self.read_chunked(head_end).await?
        } else if let Some(len) = content_length {
            if len > MAX_BODY {
                return Err(invalid("body too large"));
            }
            self.fill(head_end + len).await?;
            (self.buf[head_end..head_end + len].to_vec(), head_end + len)
        } else {
            while self.read_more().await? > 0 {
                if self.buf.len() > head_end + MAX_BODY {
                    return Err(invalid("body too large"));
                }
            }
            close = true;
            (self.buf[head_end..].to_vec(), self.buf.len())
        };
        self.buf.drain(..consumed);
        if !self.buf.is_empty() {
            return Err(invalid("unexpected bytes after the response"));
        }
        Ok(Response { status, body, close })
    }

    /// Decodes a chunked body that starts at `pos`; (body, bytes consumed from `buf`).
    async fn read_chunked(&mut self, mut pos: usize) -> io::Result<(Vec<u8>, usize)> {
        let mut body = Vec::new();
        loop {
            let end = self.line_end(pos).await?;
            let line = std::str::from_utf8(&self.buf[pos..end]).map_err(|_| invalid("bad chunk size"))?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
            pos = end + 2;
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    let end = self.line_end(pos).await?;
                    let empty = end == pos;
                    pos = end + 2;
                    if empty {
                        return Ok((body, pos));
                    }
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(invalid("body too large"));
            }
            self.fill(pos + size + 2).await?;
            body.extend_from_slice(&self.buf[pos..pos + size]);
            pos += size + 2;
        }
    }
}
