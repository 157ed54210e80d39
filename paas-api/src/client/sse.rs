//! Server-sent events, read from a byte stream: lines of `field: value`,
//! an empty line ending each event, `:` lines ignored (keep-alives).

/// One event as it came: its name, data and id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawEvent {
    pub(crate) event: String,
    pub(crate) data: String,
    pub(crate) id: Option<String>,
}

/// Turns chunks of bytes into events.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// Bytes of a line not yet ended.
    line: Vec<u8>,
    /// The event being read.
    current: RawEvent,
    /// Whether the event being read has any field.
    started: bool,
}

impl SseParser {
    /// Reads `chunk`; returns the events it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<RawEvent> {
        let mut out = Vec::new();
        for &byte in chunk {
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                    out.push(event);
                }
            } else {
                self.line.push(byte);
            }
        }
        out
    }

    fn line_done(&mut self, line: &str) -> Option<RawEvent> {
        if line.is_empty() {
            if !self.started {
                return None;
            }
            self.started = false;
            return Some(std::mem::take(&mut self.current));
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        self.started = true;
        match field {
            "event" => self.current.event = value.to_string(),
            "data" => {
                if !self.current.data.is_empty() {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
            }
            "id" => self.current.id = Some(value.to_string()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_read_whole() {
        let text = b": keep-alive\n\nevent: change\r\nid: 7\ndata: {\"a\":\ndata: 1}\n\nevent: resync\ndata:{}\n\n";
        for split in 0..text.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&text[..split]);
            events.extend(parser.push(&text[split..]));
            assert_eq!(
                events,
                [
                    RawEvent {
                        event: "change".into(),
                        data: "{\"a\":\n1}".into(),
                        id: Some("7".into()),
                    },
                    RawEvent {
                        event: "resync".into(),
                        data: "{}".into(),
                        id: None,
                    },
                ],
                "split at {split}"
            );
        }
    }
}
