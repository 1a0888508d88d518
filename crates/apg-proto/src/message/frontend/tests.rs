//! Tests across the frontend messages: the dispatching decoders, streams of messages
//! split anywhere, and round trips of every variant.

use alloc::vec;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::message::{split_frame, split_startup_packet, DEFAULT_MAX_MESSAGE_LEN};

/// What [`FrontendMessage::decode`] returns for `m`: the four `p` messages come back as
/// their raw body.
fn as_decoded(m: &FrontendMessage) -> FrontendMessage {
    let mut buf = BytesMut::new();
    match m {
        FrontendMessage::PasswordMessage(_)
        | FrontendMessage::SaslInitialResponse(_)
        | FrontendMessage::SaslResponse(_)
        | FrontendMessage::GssResponse(_) => {
            m.encode(&mut buf).unwrap();
            FrontendMessage::AuthenticationResponse(AuthenticationResponse {
                data: buf.freeze().slice(5..),
            })
        }
        other => other.clone(),
    }
}

/// Checks a decoded `p` message turns back into `original` through its method.
fn check_auth_response(original: &FrontendMessage, decoded: &FrontendMessage) {
    let FrontendMessage::AuthenticationResponse(raw) = decoded else {
        return;
    };
    let raw = raw.clone();
    match original {
        FrontendMessage::PasswordMessage(m) => assert_eq!(&raw.into_password().unwrap(), m),
        FrontendMessage::SaslInitialResponse(m) => {
            assert_eq!(&raw.into_sasl_initial_response().unwrap(), m);
        }
        FrontendMessage::SaslResponse(m) => assert_eq!(&raw.into_sasl_response().unwrap(), m),
        FrontendMessage::GssResponse(m) => assert_eq!(&raw.into_gss_response().unwrap(), m),
        _ => {}
    }
}

/// One of every tagged message, some of them twice with other field values.
fn sample_stream() -> Vec<FrontendMessage> {
    vec![
        Query {
            sql: "SELECT 1; SELECT 2".into(),
        }
        .into(),
        Parse {
            name: "s1".into(),
            query: "SELECT $1::int4, $2".into(),
            param_types: vec![23, 0],
        }
        .into(),
        Describe {
            target: Target::Statement,
            name: "s1".into(),
        }
        .into(),
        Bind {
            portal: "p1".into(),
            statement: "s1".into(),
            param_formats: vec![Format::Binary, Format::Text],
            params: vec![Some(Bytes::from_static(b"\0\0\0\x07")), None],
            result_formats: vec![Format::Binary],
        }
        .into(),
        Describe {
            target: Target::Portal,
            name: "p1".into(),
        }
        .into(),
        Execute {
            portal: "p1".into(),
            max_rows: 10,
        }
        .into(),
        Flush.into(),
        Execute {
            portal: "p1".into(),
            max_rows: 0,
        }
        .into(),
        Close {
            target: Target::Portal,
            name: "p1".into(),
        }
        .into(),
        Close {
            target: Target::Statement,
            name: "s1".into(),
        }
        .into(),
        Sync.into(),
        CopyData {
            data: Bytes::from_static(b"1\tone\n2\ttwo\n"),
        }
        .into(),
        CopyData { data: Bytes::new() }.into(),
        CopyDone.into(),
        CopyFail {
            message: "client gave up".into(),
        }
        .into(),
        FunctionCall {
            function: 1598,
            arg_formats: vec![Format::Binary],
            args: vec![Some(Bytes::from_static(b"\0\0\0\x01")), None],
            result_format: Format::Binary,
        }
        .into(),
        PasswordMessage {
            password: Bytes::from_static(b"md5a3556571e93b0d20722ba62be61e8c2d"),
        }
        .into(),
        SaslInitialResponse {
            mechanism: "SCRAM-SHA-256".into(),
            data: Some(Bytes::from_static(b"n,,n=,r=rOprNGfwEbeRWgbNEkqO")),
        }
        .into(),
        SaslResponse {
            data: Bytes::from_static(b"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+"),
        }
        .into(),
        GssResponse {
            data: Bytes::from_static(b"\x60\x82\x02\x00"),
        }
        .into(),
        AuthenticationResponse {
            data: Bytes::from_static(b"raw\0"),
        }
        .into(),
        Terminate.into(),
    ]
}

fn encode_all(messages: &[FrontendMessage]) -> Bytes {
    let mut buf = BytesMut::new();
    for m in messages {
        m.encode(&mut buf).unwrap();
    }
    buf.freeze()
}

/// Feeds `chunks` one after the other into a receive buffer, decoding every complete
/// frame as soon as it is there.
fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<FrontendMessage> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.put_slice(chunk);
        while let Some(frame) = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN).unwrap() {
            out.push(FrontendMessage::decode(frame).unwrap());
        }
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

#[test]
fn stream_decodes_byte_at_a_time_and_at_every_split() {
    let messages = sample_stream();
    let expected: Vec<_> = messages.iter().map(as_decoded).collect();
    let bytes = encode_all(&messages);

    let decoded = decode_chunks(bytes.chunks(1));
    assert_eq!(decoded, expected);
    for (original, decoded) in messages.iter().zip(&decoded) {
        check_auth_response(original, decoded);
    }

    for at in 0..=bytes.len() {
        let (a, b) = bytes.split_at(at);
        assert_eq!(decode_chunks([a, b]), expected, "split at {at}");
    }
}

#[test]
fn every_tag_dispatches() {
    for m in sample_stream() {
        let mut buf = BytesMut::new();
        m.encode(&mut buf).unwrap();
        assert_eq!(buf[0], m.tag());
        let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
            .unwrap()
            .unwrap();
        assert_eq!(FrontendMessage::decode(frame).unwrap(), as_decoded(&m));
    }
}

#[test]
fn unknown_tags_are_refused() {
    // Backend-only tags, and bytes no message uses.
    for tag in [b'Z', b'T', b'R', b'K', b'1', 0, 0xff] {
        assert_eq!(
            FrontendMessage::decode(Frame {
                tag,
                body: Bytes::new()
            }),
            Err(ProtocolError::UnknownMessageType { tag })
        );
    }
}

#[test]
fn errors_from_each_decoder_surface() {
    let decode = |tag: u8, body: &'static [u8]| {
        FrontendMessage::decode(Frame {
            tag,
            body: Bytes::from_static(body),
        })
    };
    assert_eq!(
        decode(b'D', b"Xname\0"),
        Err(ProtocolError::InvalidValue {
            message: "Describe",
            field: "target"
        })
    );
    assert_eq!(
        decode(b'C', b"Q\0"),
        Err(ProtocolError::InvalidValue {
            message: "Close",
            field: "target"
        })
    );
    assert_eq!(
        decode(b'Q', b"SELECT 1"),
        Err(ProtocolError::MissingNul { message: "Query" })
    );
    assert_eq!(
        decode(b'H', b"\0"),
        Err(ProtocolError::TrailingData { message: "Flush" })
    );
    assert_eq!(
        decode(b'X', b"\0"),
        Err(ProtocolError::TrailingData {
            message: "Terminate"
        })
    );
    assert_eq!(
        decode(b'B', b"\0\0\0\x01\0\x07"),
        Err(ProtocolError::InvalidValue {
            message: "Bind",
            field: "parameter format"
        })
    );
}

#[test]
fn startup_packets_dispatch_on_the_code() {
    let decode = |bytes: &[u8]| {
        let mut buf = BytesMut::from(bytes);
        let body = split_startup_packet(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
            .unwrap()
            .unwrap();
        assert!(buf.is_empty());
        StartupPacket::decode(body)
    };
    assert_eq!(
        decode(b"\0\0\0\x08\x04\xd2\x16\x2f"),
        Ok(StartupPacket::SslRequest(SslRequest))
    );
    assert_eq!(
        decode(b"\0\0\0\x08\x04\xd2\x16\x30"),
        Ok(StartupPacket::GssEncRequest(GssEncRequest))
    );
    assert_eq!(
        decode(b"\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x2a\x01\x02\x03\x04"),
        Ok(StartupPacket::CancelRequest(CancelRequest {
            process_id: 42,
            secret_key: Bytes::from_static(b"\x01\x02\x03\x04"),
        }))
    );
    assert_eq!(
        decode(b"\0\0\0\x10\0\x03\0\0user\0u\0\0"),
        Ok(StartupPacket::Startup(StartupMessage {
            version: ProtocolVersion::V3_0,
            params: vec![("user".into(), "u".into())],
        }))
    );
    // A greased 3.x version is still a StartupMessage.
    assert!(matches!(
        decode(b"\0\0\0\x09\0\x03\x27\x0a\0"),
        Ok(StartupPacket::Startup(StartupMessage {
            version: ProtocolVersion {
                major: 3,
                minor: 9994
            },
            ..
        }))
    ));
    // Protocol 2.0, and a special code that does not exist (1234.5681).
    assert_eq!(
        decode(b"\0\0\0\x09\0\x02\0\0\0"),
        Err(ProtocolError::UnknownStartupCode { code: 0x0002_0000 })
    );
    assert_eq!(
        decode(b"\0\0\0\x08\x04\xd2\x16\x31"),
        Err(ProtocolError::UnknownStartupCode { code: 80_877_105 })
    );
    // A known code with a malformed packet reports the packet's own error.
    assert_eq!(
        decode(b"\0\0\0\x09\x04\xd2\x16\x2f\0"),
        Err(ProtocolError::TrailingData {
            message: "SSLRequest"
        })
    );
    assert_eq!(
        StartupPacket::decode(Bytes::from_static(b"\0\x03")),
        Err(ProtocolError::Truncated {
            message: "startup packet"
        })
    );
}

proptest! {
    #[test]
    fn any_frontend_message_roundtrips(m in arb_frontend_message()) {
        let mut buf = BytesMut::from(&b"prior"[..]);
        m.encode(&mut buf).unwrap();
        let mut encoded = buf.split_off(5);
        prop_assert_eq!(&buf[..], b"prior");
        prop_assert_eq!(encoded[0], m.tag());
        let total = encoded.len();
        let frame = split_frame(&mut encoded, DEFAULT_MAX_MESSAGE_LEN).unwrap().unwrap();
        prop_assert!(encoded.is_empty());
        // The length prefix counts exactly the bytes written.
        prop_assert_eq!(frame.body.len() + 5, total);
        let decoded = FrontendMessage::decode(frame).unwrap();
        prop_assert_eq!(&decoded, &as_decoded(&m));
        check_auth_response(&m, &decoded);
    }

    #[test]
    fn any_stream_decodes_however_split(
        messages in proptest::collection::vec(arb_frontend_message(), 0..12),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..8),
    ) {
        let bytes = encode_all(&messages);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        cuts.push(0);
        cuts.push(bytes.len());
        cuts.sort_unstable();
        let chunks = cuts.windows(2).map(|w| &bytes[w[0]..w[1]]);
        let expected: Vec<_> = messages.iter().map(as_decoded).collect();
        prop_assert_eq!(decode_chunks(chunks), expected);
    }

    #[test]
    fn any_startup_packet_roundtrips(p in arb_startup_packet()) {
        let mut buf = BytesMut::new();
        p.encode(&mut buf).unwrap();
        let body = split_startup_packet(&mut buf, DEFAULT_MAX_MESSAGE_LEN).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert_eq!(StartupPacket::decode(body).unwrap(), p);
    }

    /// Arbitrary bodies never panic any decoder, and whatever decodes encodes back to
    /// the same bytes.
    #[test]
    fn arbitrary_bodies_decode_or_fail_cleanly(
        tag in prop::sample::select(b"BCcdDEfFHpPQSX".to_vec()),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let body = Bytes::from(body);
        if let Ok(m) = FrontendMessage::decode(Frame { tag, body: body.clone() }) {
            let mut buf = BytesMut::new();
            m.encode(&mut buf).unwrap();
            prop_assert_eq!(buf[0], tag);
            prop_assert_eq!(&buf[5..], &body[..]);
        }
        if let Ok(p) = StartupPacket::decode(body.clone()) {
            let mut buf = BytesMut::new();
            p.encode(&mut buf).unwrap();
            prop_assert_eq!(&buf[4..], &body[..]);
        }
    }
}
