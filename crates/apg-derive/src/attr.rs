//! The `#[apg(...)]` attributes: parsed once, with spans, for every derive. Each derive
//! accepts every attribute the crate knows (a struct can derive `FromRow` and `ToSql`
//! with one set of attributes) and refuses the ones that make no sense for it.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitStr, Path};

use crate::case::RenameRule;

/// Attributes on the type.
#[derive(Default)]
pub(crate) struct Container {
    /// `name = "..."`: the PostgreSQL type's name.
    pub(crate) name: Option<LitStr>,
    /// `rename_all = "..."`.
    pub(crate) rename_all: Option<RenameRule>,
    /// `crate = "..."`: the path to the apg crate.
    pub(crate) krate: Option<Path>,
}

/// Attributes on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    /// `rename = "..."`.
    pub(crate) rename: Option<LitStr>,
    /// `flatten`.
    pub(crate) flatten: Option<Span>,
    /// `default`.
    pub(crate) default: Option<Span>,
}

/// Attributes on an enum variant.
#[derive(Default)]
pub(crate) struct VariantAttrs {
    /// `rename = "..."`.
    pub(crate) rename: Option<LitStr>,
}

fn duplicate(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Error {
    meta.error(format!("duplicate apg attribute `{key}`"))
}

fn unknown(meta: &ParseNestedMeta<'_>, known: &str) -> syn::Error {
    let key = meta
        .path
        .get_ident()
        .map_or_else(|| "?".to_owned(), Ident::to_string);
    meta.error(format!(
        "unknown apg attribute `{key}` here (expected {known})"
    ))
}

fn each_apg(
    attrs: &[Attribute],
    mut f: impl FnMut(ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("apg")) {
        attr.parse_nested_meta(&mut f)?;
    }
    Ok(())
}

impl Container {
    pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut out = Self::default();
        each_apg(attrs, |meta| {
            if meta.path.is_ident("name") {
                if out.name.is_some() {
                    return Err(duplicate(&meta, "name"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    return Err(syn::Error::new(lit.span(), "the type name cannot be empty"));
                }
                out.name = Some(lit);
            } else if meta.path.is_ident("rename_all") {
                if out.rename_all.is_some() {
                    return Err(duplicate(&meta, "rename_all"));
                }
                out.rename_all = Some(RenameRule::parse(&meta.value()?.parse()?)?);
            } else if meta.path.is_ident("crate") {
                if out.krate.is_some() {
                    return Err(duplicate(&meta, "crate"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                out.krate = Some(lit.parse()?);
            } else {
                return Err(unknown(&meta, "`name`, `rename_all` or `crate`"));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The path the generated code names the apg crate by.
    pub(crate) fn apg(&self) -> Path {
        self.krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::apg))
    }
}

impl FieldAttrs {
    pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut out = Self::default();
        each_apg(attrs, |meta| {
            if meta.path.is_ident("rename") {
                if out.rename.is_some() {
                    return Err(duplicate(&meta, "rename"));
                }
                out.rename = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("flatten") {
                if out.flatten.is_some() {
                    return Err(duplicate(&meta, "flatten"));
                }
                out.flatten = Some(meta.path.span());
            } else if meta.path.is_ident("default") {
                if out.default.is_some() {
                    return Err(duplicate(&meta, "default"));
                }
                out.default = Some(meta.path.span());
            } else {
                return Err(unknown(&meta, "`rename`, `flatten` or `default`"));
            }
            Ok(())
        })?;
        if let (Some(_), Some(span)) = (&out.rename, out.flatten) {
            return Err(syn::Error::new(
                span,
                "a flattened field has no column of its own: `rename` and `flatten` exclude each other",
            ));
        }
        if let (Some(_), Some(span)) = (out.flatten, out.default) {
            return Err(syn::Error::new(
                span,
                "`default` and `flatten` exclude each other",
            ));
        }
        Ok(out)
    }
}

impl VariantAttrs {
    pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut out = Self::default();
        each_apg(attrs, |meta| {
            if meta.path.is_ident("rename") {
                if out.rename.is_some() {
                    return Err(duplicate(&meta, "rename"));
                }
                out.rename = Some(meta.value()?.parse()?);
            } else {
                return Err(unknown(&meta, "`rename`"));
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// A Rust identifier as written, without the `r#` of a raw identifier.
pub(crate) fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#")
        .map_or_else(|| s.clone(), str::to_owned)
}

/// The SQL name of a field or variant: its `rename`, else the container's
/// `rename_all` applied to the Rust name, else the Rust name.
pub(crate) fn sql_name(ident: &Ident, rename: Option<&LitStr>, rule: Option<RenameRule>) -> String {
    match (rename, rule) {
        (Some(lit), _) => lit.value(),
        (None, Some(rule)) => rule.apply(&unraw(ident)),
        (None, None) => unraw(ident),
    }
}
