//! Geometric types: `point`, `line`, `lseg`, `box`, `path`, `polygon` and `circle`, as
//! [`Point`], [`Line`], [`LineSegment`], [`PgBox`], [`Path`], [`Polygon`], [`Circle`].
//!
//! Binary formats are `float8` coordinates; `path` starts with a closed flag byte and
//! `path`/`polygon` with an `i32` point count.

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};

/// A PostgreSQL `point`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// The x coordinate.
    pub x: f64,
    /// The y coordinate.
    pub y: f64,
}

/// A PostgreSQL `line`: the infinite line `a*x + b*y + c = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Line {
    /// The x coefficient.
    pub a: f64,
    /// The y coefficient.
    pub b: f64,
    /// The constant.
    pub c: f64,
}

/// A PostgreSQL `lseg`: a line segment between two points.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LineSegment {
    /// One end.
    pub start: Point,
    /// The other end.
    pub end: Point,
}

/// A PostgreSQL `box`: a rectangle given by two opposite corners. The server stores
/// the upper-right corner first, whichever corners are sent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PgBox {
    /// The upper-right corner, as the server returns it.
    pub high: Point,
    /// The lower-left corner, as the server returns it.
    pub low: Point,
}

/// A PostgreSQL `circle`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Circle {
    /// The center.
    pub center: Point,
    /// The radius.
    pub radius: f64,
}

/// A PostgreSQL `path`: points joined in order, closed (a loop) or open.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Path {
    /// Whether the last point joins the first.
    pub closed: bool,
    /// The points.
    pub points: Vec<Point>,
}

/// A PostgreSQL `polygon`: a closed figure of points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Polygon {
    /// The vertices.
    pub points: Vec<Point>,
}

/// Reads `float8`s from the front of a value.
struct Reader<'a, T> {
    ty: &'a Type,
    raw: &'a [u8],
    _t: core::marker::PhantomData<T>,
}

impl<'a, T> Reader<'a, T> {
    fn new(ty: &'a Type, raw: &'a [u8]) -> Self {
        Self {
            ty,
            raw,
            _t: core::marker::PhantomData,
        }
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], ValueError> {
        let (head, rest) = self
            .raw
            .split_first_chunk::<N>()
            .ok_or_else(|| ValueError::malformed::<T>(self.ty, "truncated value"))?;
        self.raw = rest;
        Ok(*head)
    }

    fn f64(&mut self) -> Result<f64, ValueError> {
        self.bytes::<8>().map(f64::from_be_bytes)
    }

    fn point(&mut self) -> Result<Point, ValueError> {
        Ok(Point {
            x: self.f64()?,
            y: self.f64()?,
        })
    }

    /// A point count followed by exactly that many points, ending the value.
    fn points(&mut self) -> Result<Vec<Point>, ValueError> {
        let n = usize::try_from(i32::from_be_bytes(self.bytes::<4>()?))
            .map_err(|_| ValueError::malformed::<T>(self.ty, "negative point count"))?;
        // Checked before allocating: the count must match the bytes present.
        if self.raw.len() / 16 != n || self.raw.len() % 16 != 0 {
            return Err(ValueError::malformed::<T>(
                self.ty,
                "point count does not match the data",
            ));
        }
        let mut points = Vec::with_capacity(n);
        for _ in 0..n {
            points.push(self.point()?);
        }
        Ok(points)
    }

    fn end(self) -> Result<(), ValueError> {
        if self.raw.is_empty() {
            Ok(())
        } else {
            Err(ValueError::malformed::<T>(
                self.ty,
                "wrong length for the type",
            ))
        }
    }
}

fn put_point(out: &mut BytesMut, p: &Point) {
    out.put_f64(p.x);
    out.put_f64(p.y);
}

fn put_points<T>(ty: &Type, out: &mut BytesMut, points: &[Point]) -> Result<(), ValueError> {
    let n = i32::try_from(points.len()).map_err(|_| ValueError::out_of_range::<T>(ty))?;
    out.put_i32(n);
    for p in points {
        put_point(out, p);
    }
    Ok(())
}

macro_rules! geo {
    ($name:ident, $pg:ident, |$s:ident, $ty:ident, $out:ident| $write:block, |$r:ident| $read:block) => {
        impl ToSql for $name {
            fn to_sql(&self, $ty: &Type, $out: &mut BytesMut) -> Result<IsNull, ValueError> {
                let $s = self;
                $write
                Ok(IsNull::No)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }

            fn natural_type() -> Type {
                Type::$pg
            }
        }

        impl FromSql<'_> for $name {
            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                let mut $r = Reader::<Self>::new(ty, raw);
                let value = $read;
                $r.end()?;
                Ok(value)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }
        }
    };
}

geo!(
    Point,
    POINT,
    |s, _ty, out| {
        put_point(out, s);
    },
    |r| { r.point()? }
);
geo!(
    Line,
    LINE,
    |s, _ty, out| {
        out.put_f64(s.a);
        out.put_f64(s.b);
        out.put_f64(s.c);
    },
    |r| {
        Line {
            a: r.f64()?,
            b: r.f64()?,
            c: r.f64()?,
        }
    }
);
geo!(
    LineSegment,
    LSEG,
    |s, _ty, out| {
        put_point(out, &s.start);
        put_point(out, &s.end);
    },
    |r| {
        LineSegment {
            start: r.point()?,
            end: r.point()?,
        }
    }
);
geo!(
    PgBox,
    BOX,
    |s, _ty, out| {
        put_point(out, &s.high);
        put_point(out, &s.low);
    },
    |r| {
        PgBox {
            high: r.point()?,
            low: r.point()?,
        }
    }
);
geo!(
    Circle,
    CIRCLE,
    |s, _ty, out| {
        put_point(out, &s.center);
        out.put_f64(s.radius);
    },
    |r| {
        Circle {
            center: r.point()?,
            radius: r.f64()?,
        }
    }
);
geo!(
    Path,
    PATH,
    |s, ty, out| {
        out.put_u8(u8::from(s.closed));
        put_points::<Self>(ty, out, &s.points)?;
    },
    |r| {
        let [closed] = r.bytes::<1>()?;
        Path {
            closed: closed != 0,
            points: r.points()?,
        }
    }
);
geo!(
    Polygon,
    POLYGON,
    |s, ty, out| {
        put_points::<Self>(ty, out, &s.points)?;
    },
    |r| {
        Polygon {
            points: r.points()?,
        }
    }
);

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn round_trip<T: ToSql + for<'a> FromSql<'a> + PartialEq + core::fmt::Debug>(
        value: T,
        ty: &Type,
    ) {
        let raw = encode(&value, ty).unwrap().unwrap();
        assert_eq!(T::from_sql(ty, &raw), Ok(value));
    }

    #[test]
    fn shapes_round_trip() {
        let p = Point { x: 1.5, y: -2.0 };
        let q = Point {
            x: 0.0,
            y: f64::INFINITY,
        };
        round_trip(p, &Type::POINT);
        round_trip(
            Line {
                a: 1.0,
                b: 2.0,
                c: 3.0,
            },
            &Type::LINE,
        );
        round_trip(LineSegment { start: p, end: q }, &Type::LSEG);
        round_trip(PgBox { high: q, low: p }, &Type::BOX);
        round_trip(
            Circle {
                center: p,
                radius: 4.0,
            },
            &Type::CIRCLE,
        );
        round_trip(
            Path {
                closed: true,
                points: vec![p, q, p],
            },
            &Type::PATH,
        );
        round_trip(Path::default(), &Type::PATH);
        round_trip(Polygon { points: vec![p, q] }, &Type::POLYGON);
        assert_eq!(
            encode(&p, &Type::POINT).unwrap().as_deref(),
            Some(&[0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0][..])
        );
        assert!(Point::from_sql(&Type::POINT, &[0; 17]).is_err());
        assert!(Polygon::from_sql(&Type::POLYGON, &[0x7f, 0xff, 0xff, 0xff]).is_err());
    }

    proptest! {
        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..72)) {
            let _ = Point::from_sql(&Type::POINT, &raw);
            let _ = Line::from_sql(&Type::LINE, &raw);
            let _ = LineSegment::from_sql(&Type::LSEG, &raw);
            let _ = PgBox::from_sql(&Type::BOX, &raw);
            let _ = Circle::from_sql(&Type::CIRCLE, &raw);
            let _ = Path::from_sql(&Type::PATH, &raw);
            let _ = Polygon::from_sql(&Type::POLYGON, &raw);
        }
    }
}
