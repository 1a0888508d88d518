//! Arbitrary client bytes through framing and decoding (as a server or proxy would read
//! them): errors only, never a panic; every decoded message re-encodes to the same bytes.
//! The first message is read as a start-up packet, like a server does.
#![no_main]

use apg_proto::message::frontend::{FrontendMessage, StartupPacket};
use apg_proto::message::{split_frame, split_startup_packet};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

const MAX_LEN: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    if let Ok(Some(body)) = split_startup_packet(&mut buf, MAX_LEN) {
        if let Ok(packet) = StartupPacket::decode(body.clone()) {
            let mut out = BytesMut::new();
            packet.encode(&mut out).expect("a decoded packet re-encodes");
            assert_eq!(&out[4..], &body[..]);
        }
    }
    while let Ok(Some(frame)) = split_frame(&mut buf, MAX_LEN) {
        let (tag, body) = (frame.tag, frame.body.clone());
        if let Ok(message) = FrontendMessage::decode(frame) {
            let mut out = BytesMut::new();
            message.encode(&mut out).expect("a decoded message re-encodes");
            assert_eq!(out[0], tag);
            assert_eq!(&out[5..], &body[..]);
        }
    }
});
