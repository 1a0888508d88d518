//! Reading a result allocates nothing per row or per value: splitting DataRow
//! messages off the receive buffer, decoding them and reading the fixed-size values
//! (and `&str`, which borrows from the row) with `FromSql`. Counted by a global
//! allocator that counts the allocations of the current thread (the test harness's
//! other threads allocate at the same time).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use apg_proto::message::backend::{BackendMessage, DataRow};
use apg_proto::message::{split_frame, Format, Message};
use apg_proto::types::{Date, FromSql, IsNull, TimestampTz, ToSql, Type};
use bytes::BytesMut;

thread_local! {
    /// Allocations made by this thread. Const-initialised without a destructor, so
    /// reaching it from inside the allocator never allocates or registers anything.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged,
// so `System`'s guarantees (a valid block for `layout`, or null) are passed on as
// they are; the counting touches only a thread-local `Cell`, which neither
// allocates nor unwinds (`try_with` fails quietly during thread teardown).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract, which `System` has too.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation
        // goes through `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the
        // rest of `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const ROWS: usize = 100;

/// Column types, in order.
fn types() -> Vec<Type> {
    let mut types = vec![
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::FLOAT4,
        Type::FLOAT8,
        Type::BOOL,
        Type::TIMESTAMPTZ,
        Type::DATE,
        Type::TEXT,
    ];
    if cfg!(feature = "uuid") {
        types.push(Type::UUID);
    }
    types
}

/// `ROWS` DataRow messages, as the server would send them.
fn result() -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..ROWS {
        let n = i32::try_from(i).expect("few rows");
        let text = format!("row {i}");
        #[cfg_attr(not(feature = "uuid"), allow(unused_mut))]
        let mut values: Vec<Box<dyn ToSql>> = vec![
            Box::new(i16::try_from(n).expect("few rows")),
            Box::new(n),
            Box::new(i64::from(n) << 33),
            Box::new(n as f32 / 2.0),
            Box::new(f64::from(n) / 3.0),
            Box::new(n % 2 == 0),
            Box::new(TimestampTz::from_pg_micros(i64::from(n) * 1_000_000)),
            Box::new(Date::from_pg_days(n)),
            Box::new(text),
        ];
        #[cfg(feature = "uuid")]
        values.push(Box::new(uuid::Uuid::from_u128(u128::from(
            n.unsigned_abs(),
        ))));
        let fields: Vec<Vec<u8>> = values
            .iter()
            .zip(types())
            .map(|(value, ty)| {
                let mut buf = BytesMut::new();
                assert_eq!(value.to_sql_checked(&ty, &mut buf), Ok(IsNull::No));
                buf.to_vec()
            })
            .collect();
        DataRow::from_fields(fields.iter().map(|f| Some(f.as_slice())))
            .expect("a row")
            .encode(&mut out)
            .expect("encodes");
    }
    out
}

fn get<'a, T: FromSql<'a>>(ty: &Type, raw: Option<&'a [u8]>) -> T {
    T::from_sql_checked(ty, Format::Binary, raw).expect("decodes")
}

/// Reads every value of `row` into the Rust type the client would use.
fn read_row(row: &DataRow, types: &[Type]) -> u64 {
    let mut v = row.iter().zip(types);
    let mut next = || v.next().expect("a column");
    let mut sum = 0u64;
    // Only to keep the reads from being optimised away.
    let mut add = |x: u64| sum = sum.wrapping_add(x);
    let (raw, ty) = next();
    add(u64::from(get::<i16>(ty, raw).unsigned_abs()));
    let (raw, ty) = next();
    add(u64::from(get::<i32>(ty, raw).unsigned_abs()));
    let (raw, ty) = next();
    add(get::<i64>(ty, raw).unsigned_abs());
    let (raw, ty) = next();
    add(u64::from(get::<f32>(ty, raw).to_bits()));
    let (raw, ty) = next();
    add(get::<f64>(ty, raw).to_bits());
    let (raw, ty) = next();
    add(u64::from(get::<bool>(ty, raw)));
    let (raw, ty) = next();
    add(get::<TimestampTz>(ty, raw).pg_micros().unsigned_abs());
    let (raw, ty) = next();
    add(u64::from(get::<Date>(ty, raw).pg_days().unsigned_abs()));
    let (raw, ty) = next();
    add(u64::try_from(get::<&str>(ty, raw).len()).expect("short"));
    #[cfg(feature = "uuid")]
    {
        let (raw, ty) = next();
        add(u64::from(get::<uuid::Uuid>(ty, raw).as_bytes()[15]));
    }
    // Also the Option and widening paths the client uses.
    add(u64::from(
        get::<Option<i64>>(&Type::INT4, row.get(1).expect("a column")).is_some(),
    ));
    sum
}

#[test]
fn decoding_rows_and_fixed_size_values_does_not_allocate() {
    let types = types();
    let mut buf = result();
    // The first split turns the buffer into a shared one (one allocation, once per
    // receive buffer, not per row): done before counting.
    let first = split_frame(&mut buf, usize::MAX)
        .expect("a frame")
        .expect("a whole frame");
    let mut rows = 1;
    let mut sum = 0;
    let n = allocations(|| {
        let mut frame = Some(first);
        while let Some(f) = frame {
            match BackendMessage::decode(f).expect("a message") {
                BackendMessage::DataRow(row) => sum ^= read_row(&row, &types),
                _ => unreachable!("only DataRows were written"),
            }
            frame = split_frame(&mut buf, usize::MAX).expect("a frame");
            rows += usize::from(frame.is_some());
        }
    });
    assert_eq!(rows, ROWS);
    assert_ne!(sum, 0);
    assert_eq!(n, 0, "allocations while decoding {ROWS} rows");
}

#[test]
fn the_counter_counts() {
    // A String does allocate: the counter sees it.
    let types = types();
    let mut buf = result();
    let frame = split_frame(&mut buf, usize::MAX)
        .expect("a frame")
        .expect("a frame");
    let BackendMessage::DataRow(row) = BackendMessage::decode(frame).expect("a message") else {
        panic!("a DataRow");
    };
    let n = allocations(|| {
        let s: String = get(&types[8], row.get(8).expect("a column"));
        assert_eq!(s, "row 0");
    });
    assert_eq!(n, 1);
}
