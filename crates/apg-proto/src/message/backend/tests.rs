//! Whole-stream tests: a recorded server session decoded however the network splits
//! it, dispatch on every type byte, and property tests over arbitrary message
//! sequences.

use alloc::vec;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::message::{split_frame, Format, DEFAULT_MAX_MESSAGE_LEN};

/// What PostgreSQL 15.18 sent to psql 15 over TCP (protocol 3.0, SCRAM-SHA-256, no TLS)
/// for this script, one message per entry:
///
/// ```sql
/// LISTEN chan;
/// DO $$BEGIN RAISE NOTICE 'hello from plpgsql'; END$$;
/// SELECT * FROM (VALUES (1, 'one', NULL::text), (2, NULL, 'x'), (NULL, 'three', ''))
///     AS t(n, word, extra);
/// NOTIFY chan, 'payload';
/// COPY (VALUES (1, 'a'), (2, NULL)) TO STDOUT;
/// SELECT 1/0;
/// ```
const RECORDED: &[&[u8]] = &[
    // AuthenticationSASL, AuthenticationSASLContinue, AuthenticationSASLFinal,
    // AuthenticationOk.
    b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0",
    b"R\0\0\0\x5c\0\0\0\x0br=k+DVlgZJEbhZSchNMYkJxgrFSsbB4fq+io/Q4FOxfFyg6avy,\
      s=BaDwgV972O+YrVjYnB4t4Q==,i=4096",
    b"R\0\0\0\x36\0\0\0\x0cv=RyohsHufp08MVfebzk6bQaMR/hMty3drnRgpySXQAsY=",
    b"R\0\0\0\x08\0\0\0\0",
    // Thirteen ParameterStatus.
    b"S\0\0\0\x1eapplication_name\0recorder\0",
    b"S\0\0\0\x19client_encoding\0UTF8\0",
    b"S\0\0\0\x17DateStyle\0ISO, MDY\0",
    b"S\0\0\0\x26default_transaction_read_only\0off\0",
    b"S\0\0\0\x17in_hot_standby\0off\0",
    b"S\0\0\0\x19integer_datetimes\0on\0",
    b"S\0\0\0\x1bIntervalStyle\0postgres\0",
    b"S\0\0\0\x14is_superuser\0on\0",
    b"S\0\0\0\x19server_encoding\0UTF8\0",
    b"S\0\0\0\x32server_version\x0015.18 (Debian 15.18-0+deb12u1)\0",
    b"S\0\0\0\x23session_authorization\0postgres\0",
    b"S\0\0\0\x23standard_conforming_strings\0on\0",
    b"S\0\0\0\x15TimeZone\0Etc/UTC\0",
    // BackendKeyData (a 4-byte key), ReadyForQuery.
    b"K\0\0\0\x0c\0\0\x1b\x21\x20\xcd\x83\x61",
    b"Z\0\0\0\x05I",
    // LISTEN chan;
    b"C\0\0\0\x0bLISTEN\0",
    b"Z\0\0\0\x05I",
    // DO ... RAISE NOTICE
    b"N\0\0\0\x87SNOTICE\0VNOTICE\0C00000\0Mhello from plpgsql\0\
      WPL/pgSQL function inline_code_block line 1 at RAISE\0Fpl_exec.c\0L3891\0\
      Rexec_stmt_raise\0\0",
    b"C\0\0\0\x07DO\0",
    b"Z\0\0\0\x05I",
    // SELECT ... VALUES: int4, text, text; NULLs and an empty string.
    b"T\0\0\0\x49\0\x03\
      n\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0\
      word\0\0\0\0\0\0\0\0\0\0\x19\xff\xff\xff\xff\xff\xff\0\0\
      extra\0\0\0\0\0\0\0\0\0\0\x19\xff\xff\xff\xff\xff\xff\0\0",
    b"D\0\0\0\x16\0\x03\0\0\0\x011\0\0\0\x03one\xff\xff\xff\xff",
    b"D\0\0\0\x14\0\x03\0\0\0\x012\xff\xff\xff\xff\0\0\0\x01x",
    b"D\0\0\0\x17\0\x03\xff\xff\xff\xff\0\0\0\x05three\0\0\0\0",
    b"C\0\0\0\x0dSELECT 3\0",
    b"Z\0\0\0\x05I",
    // NOTIFY chan, 'payload'; the session listens to it itself.
    b"C\0\0\0\x0bNOTIFY\0",
    b"A\0\0\0\x15\0\0\x1b\x21chan\0payload\0",
    b"Z\0\0\0\x05I",
    // COPY ... TO STDOUT: text format, two columns.
    b"H\0\0\0\x0b\0\0\x02\0\0\0\0",
    b"d\0\0\0\x081\ta\n",
    b"d\0\0\0\x092\t\\N\n",
    b"c\0\0\0\x04",
    b"C\0\0\0\x0bCOPY 2\0",
    b"Z\0\0\0\x05I",
    // SELECT 1/0;
    b"E\0\0\0\x41SERROR\0VERROR\0C22012\0Mdivision by zero\0Fint.c\0L869\0Rint4div\0\0",
    b"Z\0\0\0\x05I",
];

/// The messages of [`RECORDED`], built by hand.
fn expected() -> Vec<BackendMessage> {
    use BackendMessage as B;

    let idle = || {
        B::ReadyForQuery(ReadyForQuery {
            status: TransactionStatus::Idle,
        })
    };
    let tag = |t: &str| B::CommandComplete(CommandComplete { tag: t.into() });
    let status = |name: &str, value: &str| {
        B::ParameterStatus(ParameterStatus {
            name: name.into(),
            value: value.into(),
        })
    };
    let column = |name: &str, type_oid, type_size| FieldDescription {
        name: name.into(),
        table_oid: 0,
        column_id: 0,
        type_oid,
        type_size,
        type_modifier: -1,
        format: Format::Text,
    };
    let row = |fields: &[Option<&[u8]>]| {
        B::DataRow(DataRow::from_fields(fields.iter().copied()).expect("small row"))
    };
    let copy = |data: &'static [u8]| {
        B::CopyData(CopyData {
            data: Bytes::from_static(data),
        })
    };

    vec![
        B::Authentication(Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256".into()],
        }),
        B::Authentication(Authentication::SaslContinue {
            data: Bytes::from_static(
                b"r=k+DVlgZJEbhZSchNMYkJxgrFSsbB4fq+io/Q4FOxfFyg6avy,\
                  s=BaDwgV972O+YrVjYnB4t4Q==,i=4096",
            ),
        }),
        B::Authentication(Authentication::SaslFinal {
            data: Bytes::from_static(b"v=RyohsHufp08MVfebzk6bQaMR/hMty3drnRgpySXQAsY="),
        }),
        B::Authentication(Authentication::Ok),
        status("application_name", "recorder"),
        status("client_encoding", "UTF8"),
        status("DateStyle", "ISO, MDY"),
        status("default_transaction_read_only", "off"),
        status("in_hot_standby", "off"),
        status("integer_datetimes", "on"),
        status("IntervalStyle", "postgres"),
        status("is_superuser", "on"),
        status("server_encoding", "UTF8"),
        status("server_version", "15.18 (Debian 15.18-0+deb12u1)"),
        status("session_authorization", "postgres"),
        status("standard_conforming_strings", "on"),
        status("TimeZone", "Etc/UTC"),
        B::BackendKeyData(BackendKeyData {
            process_id: 6945,
            secret_key: Bytes::from_static(b"\x20\xcd\x83\x61"),
        }),
        idle(),
        tag("LISTEN"),
        idle(),
        B::NoticeResponse(NoticeResponse(
            [
                (b'S', "NOTICE"),
                (b'V', "NOTICE"),
                (b'C', "00000"),
                (b'M', "hello from plpgsql"),
                (b'W', "PL/pgSQL function inline_code_block line 1 at RAISE"),
                (b'F', "pl_exec.c"),
                (b'L', "3891"),
                (b'R', "exec_stmt_raise"),
            ]
            .into_iter()
            .collect(),
        )),
        tag("DO"),
        idle(),
        B::RowDescription(RowDescription {
            fields: vec![
                column("n", 23, 4),
                column("word", 25, -1),
                column("extra", 25, -1),
            ],
        }),
        row(&[Some(b"1"), Some(b"one"), None]),
        row(&[Some(b"2"), None, Some(b"x")]),
        row(&[None, Some(b"three"), Some(b"")]),
        tag("SELECT 3"),
        idle(),
        tag("NOTIFY"),
        B::NotificationResponse(NotificationResponse {
            process_id: 6945,
            channel: "chan".into(),
            payload: "payload".into(),
        }),
        idle(),
        B::CopyOutResponse(CopyOutResponse {
            format: Format::Text,
            column_formats: vec![Format::Text; 2],
        }),
        copy(b"1\ta\n"),
        copy(b"2\t\\N\n"),
        B::CopyDone(CopyDone),
        tag("COPY 2"),
        idle(),
        B::ErrorResponse(ErrorResponse(
            [
                (b'S', "ERROR"),
                (b'V', "ERROR"),
                (b'C', "22012"),
                (b'M', "division by zero"),
                (b'F', "int.c"),
                (b'L', "869"),
                (b'R', "int4div"),
            ]
            .into_iter()
            .collect(),
        )),
        idle(),
    ]
}

fn recorded_stream() -> Vec<u8> {
    RECORDED.concat()
}

/// Feeds `chunks` one after the other into a receive buffer, decoding every complete
/// frame after each, as a connection would after each read.
fn decode_chunks<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<BackendMessage>, ProtocolError> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(frame) = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)? {
            out.push(BackendMessage::decode(frame)?);
        }
    }
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    Ok(out)
}

#[test]
fn recorded_messages_decode_and_reencode_byte_for_byte() {
    let expected = expected();
    assert_eq!(RECORDED.len(), expected.len());
    for (bytes, want) in RECORDED.iter().zip(&expected) {
        let mut buf = BytesMut::from(*bytes);
        let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
            .unwrap()
            .unwrap();
        assert!(buf.is_empty());
        let got = BackendMessage::decode(frame).unwrap();
        assert_eq!(&got, want);
        assert_eq!(got.tag(), bytes[0]);
        let mut out = BytesMut::new();
        got.encode(&mut out).unwrap();
        assert_eq!(&out[..], *bytes, "re-encoding {}", got.name());
    }
}

#[test]
fn recorded_stream_split_at_every_byte() {
    let stream = recorded_stream();
    let expected = expected();
    assert_eq!(decode_chunks([&stream[..]]).unwrap(), expected);
    for at in 0..=stream.len() {
        let (a, b) = stream.split_at(at);
        assert_eq!(decode_chunks([a, b]).unwrap(), expected, "split at {at}");
    }
}

#[test]
fn recorded_stream_one_byte_at_a_time() {
    let stream = recorded_stream();
    assert_eq!(decode_chunks(stream.chunks(1)).unwrap(), expected());
}

#[test]
fn a_row_outlives_the_receive_buffer() {
    let mut buf = BytesMut::from(RECORDED[25]);
    let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
        .unwrap()
        .unwrap();
    let BackendMessage::DataRow(row) = BackendMessage::decode(frame).unwrap() else {
        panic!("not a DataRow");
    };
    // More reads reuse the buffer; the row's Bytes keeps its own view.
    buf.extend_from_slice(b"Z\0\0\0\x05I");
    drop(buf);
    assert_eq!(
        row.iter().collect::<Vec<_>>(),
        vec![Some(&b"1"[..]), Some(&b"one"[..]), None]
    );
}

#[test]
fn every_tag_dispatches_or_is_refused() {
    let known = b"RK23CWdcGHDIEVvnNAtS1sZT";
    for tag in 0..=u8::MAX {
        // An empty body: valid for some messages, malformed for others, but only the
        // unknown tags may answer UnknownMessageType.
        let result = BackendMessage::decode(Frame {
            tag,
            body: Bytes::new(),
        });
        if known.contains(&tag) {
            assert_ne!(
                result,
                Err(ProtocolError::UnknownMessageType { tag }),
                "{}",
                tag as char
            );
            if let Ok(m) = result {
                assert_eq!(m.tag(), tag);
            }
        } else {
            assert_eq!(result, Err(ProtocolError::UnknownMessageType { tag }));
        }
    }
}

#[test]
fn malformed_streams_fail_with_typed_errors() {
    let decode = |bytes: &[u8]| decode_chunks([bytes]);
    // Unknown tag.
    assert_eq!(
        decode(b"Y\0\0\0\x04"),
        Err(ProtocolError::UnknownMessageType { tag: b'Y' })
    );
    // Truncated field inside a well-framed message.
    assert_eq!(
        decode(b"K\0\0\0\x06\0\0"),
        Err(ProtocolError::Truncated {
            message: "BackendKeyData"
        })
    );
    // Missing NUL.
    assert_eq!(
        decode(b"C\0\0\0\x0aSELECT"),
        Err(ProtocolError::MissingNul {
            message: "CommandComplete"
        })
    );
    // Trailing bytes after the last field.
    assert_eq!(
        decode(b"Z\0\0\0\x06IZ"),
        Err(ProtocolError::TrailingData {
            message: "ReadyForQuery"
        })
    );
    assert_eq!(
        decode(b"1\0\0\0\x05\0"),
        Err(ProtocolError::TrailingData {
            message: "ParseComplete"
        })
    );
    // Negative lengths other than -1.
    assert_eq!(
        decode(b"D\0\0\0\x0a\0\x01\xff\xff\xff\xfe"),
        Err(ProtocolError::InvalidValue {
            message: "DataRow",
            field: "field length"
        })
    );
    assert_eq!(
        decode(b"V\0\0\0\x08\xff\xff\xff\xf0"),
        Err(ProtocolError::InvalidValue {
            message: "FunctionCallResponse",
            field: "result length"
        })
    );
    // A field count that overruns the body.
    assert_eq!(
        decode(b"D\0\0\0\x06\xff\xff"),
        Err(ProtocolError::Truncated { message: "DataRow" })
    );
    assert_eq!(
        decode(b"T\0\0\0\x06\xff\xff"),
        Err(ProtocolError::Truncated {
            message: "RowDescription"
        })
    );
    assert_eq!(
        decode(b"t\0\0\0\x06\xff\xff"),
        Err(ProtocolError::Truncated {
            message: "ParameterDescription"
        })
    );
    // Unknown authentication code.
    assert_eq!(
        decode(b"R\0\0\0\x08\0\0\0\x01"),
        Err(ProtocolError::UnknownAuthenticationCode { code: 1 })
    );
    // Invalid format codes.
    assert_eq!(
        decode(b"G\0\0\0\x07\x05\0\0"),
        Err(ProtocolError::InvalidValue {
            message: "CopyInResponse",
            field: "overall format"
        })
    );
    assert_eq!(
        decode(b"W\0\0\0\x09\x01\0\x01\0\x07"),
        Err(ProtocolError::InvalidValue {
            message: "CopyBothResponse",
            field: "column format"
        })
    );
    // Invalid transaction status.
    assert_eq!(
        decode(b"Z\0\0\0\x05X"),
        Err(ProtocolError::InvalidValue {
            message: "ReadyForQuery",
            field: "transaction status"
        })
    );
    // A good message, then a bad one: the good one is not lost, the error surfaces.
    let mut buf = BytesMut::from(&b"Z\0\0\0\x05IZ\0\0\0\x05?"[..]);
    let first = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
        .unwrap()
        .unwrap();
    assert!(BackendMessage::decode(first).is_ok());
    let second = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN)
        .unwrap()
        .unwrap();
    assert!(BackendMessage::decode(second).is_err());
}

#[test]
fn names_match_the_documentation() {
    for (m, name) in expected().iter().zip([
        "Authentication",
        "Authentication",
        "Authentication",
        "Authentication",
        "ParameterStatus",
    ]) {
        assert_eq!(m.name(), name);
    }
    assert_eq!(BackendMessage::from(NoData).name(), "NoData");
    assert_eq!(BackendMessage::from(CopyDone).name(), "CopyDone");
    assert_eq!(
        BackendMessage::from(EmptyQueryResponse).name(),
        "EmptyQueryResponse"
    );
}

/// Cuts `bytes` into consecutive chunks of the given sizes (cycled), the last one
/// taking what is left.
fn chunked<'a>(bytes: &'a [u8], sizes: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = bytes;
    let mut sizes = sizes.iter().cycle();
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = sizes.next().copied().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

proptest! {
    #[test]
    fn any_message_roundtrips(msg in arb_backend_message()) {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).unwrap();
        prop_assert_eq!(buf.first().copied(), Some(msg.tag()));
        let frame = split_frame(&mut buf, DEFAULT_MAX_MESSAGE_LEN).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert_eq!(BackendMessage::decode(frame).unwrap(), msg);
    }

    #[test]
    fn any_sequence_in_any_chunks(
        msgs in proptest::collection::vec(arb_backend_message(), 0..24),
        sizes in proptest::collection::vec(1usize..64, 1..16),
    ) {
        let mut stream = BytesMut::new();
        for m in &msgs {
            m.encode(&mut stream).unwrap();
        }
        let got = decode_chunks(chunked(&stream, &sizes)).unwrap();
        prop_assert_eq!(got, msgs);
    }

    #[test]
    fn recorded_stream_in_any_chunks(sizes in proptest::collection::vec(1usize..200, 1..16)) {
        let stream = recorded_stream();
        prop_assert_eq!(decode_chunks(chunked(&stream, &sizes)).unwrap(), expected());
    }

    #[test]
    fn arbitrary_frames_never_panic(
        tag in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let frame = Frame { tag, body: Bytes::from(body.clone()) };
        if let Ok(msg) = BackendMessage::decode(frame) {
            // Whatever decodes re-encodes to the same bytes, except error and notice
            // text that was not UTF-8: it is decoded lossily on purpose.
            let mut out = BytesMut::new();
            msg.encode(&mut out).unwrap();
            prop_assert_eq!(out.first().copied(), Some(tag));
            let lossy = matches!(tag, b'E' | b'N') && core::str::from_utf8(&body).is_err();
            if !lossy {
                prop_assert_eq!(&out[5..], &body[..]);
            }
        }
    }
}
