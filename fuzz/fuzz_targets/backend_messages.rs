//! Arbitrary server bytes through framing and decoding: errors only, never a panic; and
//! every message that decodes re-encodes to the same bytes. The exception is error and
//! notice text that is not UTF-8, which is decoded lossily on purpose (an error must be
//! reportable whatever its encoding): its re-encoding must decode to the same message.
#![no_main]

use apg_proto::message::backend::BackendMessage;
use apg_proto::message::{split_frame, Frame};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

/// Small, so that length fields in the input often point inside it.
const MAX_LEN: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = split_frame(&mut buf, MAX_LEN) {
        let Frame { tag, body } = frame.clone();
        if let Ok(message) = BackendMessage::decode(frame) {
            let mut out = BytesMut::new();
            message.encode(&mut out).expect("a decoded message re-encodes");
            let lossy = matches!(
                message,
                BackendMessage::ErrorResponse(_) | BackendMessage::NoticeResponse(_)
            ) && !field_values_are_utf8(&body);
            if lossy {
                let again = split_frame(&mut out, usize::MAX).unwrap().unwrap();
                assert_eq!(BackendMessage::decode(again).unwrap(), message);
                continue;
            }
            let mut expected = BytesMut::new();
            expected.extend_from_slice(&[tag]);
            expected.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
            expected.extend_from_slice(&body);
            assert_eq!(out, expected, "round trip of {}", message.name());
        }
    }
});

/// Whether every value of an ErrorResponse or NoticeResponse body (a one-byte field
/// code, then a NUL-terminated value, repeated) is UTF-8. The body as a whole is not
/// the test: a non-ASCII code byte can make an invalid value look valid with it.
fn field_values_are_utf8(mut body: &[u8]) -> bool {
    while let Some((&code, rest)) = body.split_first() {
        if code == 0 {
            break;
        }
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        if std::str::from_utf8(&rest[..end]).is_err() {
            return false;
        }
        body = rest.get(end + 1..).unwrap_or_default();
    }
    true
}
