//! A connection that finished start-up and has requests in flight, fed arbitrary server
//! bytes in arbitrary chunks: it must never panic or loop, its buffers must stay bounded
//! by the input, and once it reports an error it must stay closed.
#![no_main]

use apg_proto::connection::{Config, Connection, Event, Phase, Request};
use apg_proto::message::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut config = Config::new("fuzz");
    config.max_message_len = 1 << 16;
    let mut conn = Connection::new(config).unwrap();
    // AuthenticationOk, ReadyForQuery(I): a trust start-up.
    conn.receive(b"R\0\0\0\x08\0\0\0\0Z\0\0\0\x05I");
    conn.process().unwrap();

    let query = conn.send(Request::query("SELECT 1; SELECT 2")).unwrap();
    let mut req = conn.extended().unwrap();
    req.parse("s1", "SELECT $1::int4", &[]).unwrap();
    req.bind("p1", "s1", &[Format::Binary], &[Some(&[0, 0, 0, 1])], &[])
        .unwrap();
    req.describe_portal("p1").unwrap();
    req.execute("p1", 10).unwrap();
    let _ = req.finish_without_sync();
    let mut req = conn.extended().unwrap();
    req.execute("p1", 0).unwrap();
    let _ = req.finish();
    let copy = conn.send(Request::copy_in("COPY t FROM STDIN")).unwrap();
    conn.copy_data(copy, b"1\n").unwrap();
    let _ = conn.send(Request::query("SELECT 3"));
    conn.discard(query);

    let mut events = 0usize;
    let mut failed = false;
    for piece in data.chunks(chunk) {
        conn.receive(piece);
        let result = conn.process();
        if failed {
            assert!(result.is_err(), "errors are sticky");
        }
        failed |= result.is_err();
        while let Some(bytes) = conn.poll_transmit() {
            let n = bytes.len();
            conn.advance_transmit(n);
        }
        while let Some(event) = conn.poll_event() {
            events += 1;
            if let Event::Closed(_) = event {
                assert_eq!(conn.phase(), Phase::Closed);
            }
        }
        // Every event comes from at least a 5-byte message, or from the few requests.
        assert!(events <= data.len() / 5 + 16);
        let _ = conn.copy_data(copy, b"2\n");
    }
    conn.receive_eof();
    let _ = conn.process();
    while conn.poll_event().is_some() {}
    assert_eq!(conn.in_flight(), 0, "EOF completes every request");
});
