//! `#[derive(ToSql)]` and `#[derive(FromSql)]`: the shape of the type picks the
//! mapping.
//!
//! * an enum of unit variants is a PostgreSQL enum: values are the labels' bytes (the
//!   binary and the text format are the same);
//! * a struct with named fields is a composite type: fields matched by name against the
//!   type's description, in the type's order;
//! * a tuple struct with one field is its field's type (transparent).

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{
    Data, DataEnum, DeriveInput, Fields, FieldsNamed, GenericParam, Generics, Ident, Lifetime,
    LifetimeParam, LitByteStr, Path, Type, WherePredicate,
};

use crate::attr::{sql_name, unraw, Container, FieldAttrs, VariantAttrs};
use crate::case::RenameRule;

/// Which trait is derived.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    To,
    From,
}

/// A Rust type's mapping, as read from its shape and attributes.
enum Shape {
    /// Variants and their labels.
    Enum(Vec<(Ident, String)>),
    /// Fields (Rust name, type) and their SQL names.
    Composite(Vec<(Ident, Type, String)>),
    /// The inner type of a one-field tuple struct.
    Newtype(Box<Type>),
}

pub(crate) fn expand(input: &DeriveInput, direction: Direction) -> syn::Result<TokenStream> {
    let container = Container::parse(&input.attrs)?;
    let apg = container.apg();
    let ident = &input.ident;
    let shape = match &input.data {
        Data::Enum(data) => enum_shape(input, data, container.rename_all)?,
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => composite_shape(fields, container.rename_all)?,
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                let field = &fields.unnamed[0];
                if let Some(attr) = field.attrs.iter().find(|a| a.path().is_ident("apg")) {
                    return Err(syn::Error::new(
                        attr.span(),
                        "the field of a newtype takes no apg attributes",
                    ));
                }
                if let Some(name) = &container.name {
                    return Err(syn::Error::new(
                        name.span(),
                        "a newtype is sent as its field's type: `name` does not apply",
                    ));
                }
                Shape::Newtype(Box::new(field.ty.clone()))
            }
            _ => {
                return Err(syn::Error::new(
                    ident.span(),
                    "ToSql and FromSql can be derived for an enum of unit variants (a \
                     PostgreSQL enum), a struct with named fields (a composite type) or \
                     a tuple struct with one field (a newtype)",
                ))
            }
        },
        Data::Union(_) => {
            return Err(syn::Error::new(
                ident.span(),
                "ToSql and FromSql cannot be derived for a union",
            ))
        }
    };
    let type_name = container.name.as_ref().map_or_else(
        || RenameRule::Snake.apply(&unraw(ident)),
        syn::LitStr::value,
    );
    let named = named(&type_name);
    let mut generics = input.generics.clone();
    let lifetime = match direction {
        Direction::From => Some(from_sql_lifetime(&mut generics)?),
        Direction::To => None,
    };
    if input.generics.type_params().next().is_some() {
        let types: Vec<&Type> = match &shape {
            Shape::Enum(_) => Vec::new(),
            Shape::Composite(fields) => fields.iter().map(|(_, ty, _)| ty).collect(),
            Shape::Newtype(ty) => vec![&**ty],
        };
        let bounds = types.into_iter().map(|ty| -> WherePredicate {
            match &lifetime {
                Some(lt) => syn::parse_quote!(#ty: #apg::types::FromSql<#lt>),
                None => syn::parse_quote!(#ty: #apg::types::ToSql),
            }
        });
        generics.make_where_clause().predicates.extend(bounds);
    }
    let body = match (&shape, &lifetime) {
        (Shape::Enum(variants), None) => to_sql_enum(&apg, variants, &named),
        (Shape::Enum(variants), Some(lt)) => from_sql_enum(&apg, variants, &named, lt),
        (Shape::Composite(fields), None) => to_sql_composite(&apg, fields, &named),
        (Shape::Composite(fields), Some(lt)) => from_sql_composite(&apg, fields, &named, lt),
        (Shape::Newtype(inner), None) => to_sql_newtype(&apg, inner),
        (Shape::Newtype(inner), Some(lt)) => from_sql_newtype(&apg, inner, lt),
    };
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let trait_ = match &lifetime {
        Some(lt) => quote!(#apg::types::FromSql<#lt>),
        None => quote!(#apg::types::ToSql),
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #trait_ for #ident #ty_generics #where_clause {
            #body
        }
    })
}

/// The lifetime of `FromSql<'a>`: the type's own when it has one (a value borrowing
/// from the row), a new one added to the impl's generics otherwise.
fn from_sql_lifetime(generics: &mut Generics) -> syn::Result<Lifetime> {
    let lifetimes: Vec<&LifetimeParam> = generics.lifetimes().collect();
    match lifetimes.as_slice() {
        [] => {
            let lt = Lifetime::new("'__apg", Span::call_site());
            generics
                .params
                .insert(0, GenericParam::Lifetime(LifetimeParam::new(lt.clone())));
            Ok(lt)
        }
        [one] => Ok(one.lifetime.clone()),
        [_, second, ..] => Err(syn::Error::new(
            second.span(),
            "FromSql can be derived for types with at most one lifetime (the row's)",
        )),
    }
}

fn enum_shape(
    input: &DeriveInput,
    data: &DataEnum,
    rule: Option<RenameRule>,
) -> syn::Result<Shape> {
    if let Some(param) = input.generics.params.first() {
        return Err(syn::Error::new(
            param.span(),
            "a PostgreSQL enum maps to an enum without generic parameters",
        ));
    }
    if data.variants.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "a PostgreSQL enum needs at least one variant",
        ));
    }
    let mut labels: HashMap<String, Span> = HashMap::new();
    let mut variants = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new(
                variant.fields.span(),
                "a PostgreSQL enum's variants cannot carry data: only unit variants are supported",
            ));
        }
        let attrs = VariantAttrs::parse(&variant.attrs)?;
        let label = sql_name(&variant.ident, attrs.rename.as_ref(), rule);
        if label.is_empty() {
            return Err(syn::Error::new(
                variant.span(),
                "an enum label cannot be empty",
            ));
        }
        if labels.insert(label.clone(), variant.span()).is_some() {
            return Err(syn::Error::new(
                variant.ident.span(),
                format!("two variants have the label {label:?}"),
            ));
        }
        variants.push((variant.ident.clone(), label));
    }
    Ok(Shape::Enum(variants))
}

fn composite_shape(fields: &FieldsNamed, rule: Option<RenameRule>) -> syn::Result<Shape> {
    let mut names: HashMap<String, Span> = HashMap::new();
    let mut out = Vec::new();
    for field in &fields.named {
        let attrs = FieldAttrs::parse(&field.attrs)?;
        if let Some(span) = attrs.flatten.or(attrs.default) {
            return Err(syn::Error::new(
                span,
                "`flatten` and `default` apply to FromRow, not to composite types",
            ));
        }
        let ident = field
            .ident
            .clone()
            .ok_or_else(|| syn::Error::new(field.span(), "a named field without a name"))?;
        let name = sql_name(&ident, attrs.rename.as_ref(), rule);
        if names.insert(name.clone(), ident.span()).is_some() {
            return Err(syn::Error::new(
                ident.span(),
                format!("two fields have the name {name:?}"),
            ));
        }
        out.push((ident, field.ty.clone(), name));
    }
    if out.is_empty() {
        return Err(syn::Error::new(
            fields.span(),
            "a composite type needs at least one field",
        ));
    }
    Ok(Shape::Composite(out))
}

/// Whether `ty` is the type called `type_name`: `name` in any schema, or
/// `schema.name` in that schema only.
fn named(type_name: &str) -> TokenStream {
    match type_name.rsplit_once('.') {
        Some((schema, name)) if !schema.is_empty() && !name.is_empty() => quote! {
            (ty.name() == ::core::option::Option::Some(#name)
                && ty.schema() == ::core::option::Option::Some(#schema))
        },
        _ => quote!((ty.name() == ::core::option::Option::Some(#type_name))),
    }
}

/// `ValueError::Custom` with a formatted message.
fn custom(apg: &Path, message: TokenStream) -> TokenStream {
    quote! {
        #apg::types::ValueError::Custom(::std::format!(#message).into_boxed_str())
    }
}

fn to_sql_enum(apg: &Path, variants: &[(Ident, String)], named: &TokenStream) -> TokenStream {
    let arms = variants.iter().map(|(v, label)| quote!(Self::#v => #label));
    let unknown = custom(
        apg,
        quote!(
            "enum type {} has no label {:?} (from Rust type {})",
            ty,
            label,
            ::core::any::type_name::<Self>()
        ),
    );
    quote! {
        fn to_sql(
            &self,
            ty: &#apg::types::Type,
            out: &mut #apg::types::BytesMut,
        ) -> ::core::result::Result<#apg::types::IsNull, #apg::types::ValueError> {
            let label: &'static str = match self { #(#arms,)* };
            // A described type lists its labels: refuse one the database lacks before
            // sending it.
            if let #apg::types::Kind::Enum(labels) = ty.kind() {
                if !labels.iter().any(|l| l == label) {
                    return ::core::result::Result::Err(#unknown);
                }
            }
            out.extend_from_slice(label.as_bytes());
            ::core::result::Result::Ok(#apg::types::IsNull::No)
        }

        fn accepts(ty: &#apg::types::Type) -> bool {
            // An enum's OID differs between databases, so a value sent without a known
            // parameter type goes as "unspecified" and the server infers the type.
            *ty == #apg::types::Type::UNSPECIFIED
                || (#named
                    && ::core::matches!(ty.kind(), #apg::types::Kind::Enum(_)))
        }

        fn natural_type() -> #apg::types::Type {
            #apg::types::Type::UNSPECIFIED
        }
    }
}

fn from_sql_enum(
    apg: &Path,
    variants: &[(Ident, String)],
    named: &TokenStream,
    lt: &Lifetime,
) -> TokenStream {
    let arms = variants.iter().map(|(v, label)| {
        let bytes = LitByteStr::new(label.as_bytes(), Span::call_site());
        quote!(#bytes => ::core::result::Result::Ok(Self::#v))
    });
    let unknown = custom(
        apg,
        quote!(
            "unknown label {:?} of enum type {} for Rust type {}",
            ::std::string::String::from_utf8_lossy(raw),
            ty,
            ::core::any::type_name::<Self>()
        ),
    );
    quote! {
        fn from_sql(
            ty: &#apg::types::Type,
            raw: &#lt [u8],
        ) -> ::core::result::Result<Self, #apg::types::ValueError> {
            match raw {
                #(#arms,)*
                _ => ::core::result::Result::Err(#unknown),
            }
        }

        fn from_sql_text(
            ty: &#apg::types::Type,
            raw: &#lt [u8],
        ) -> ::core::result::Result<Self, #apg::types::ValueError> {
            // An enum's text and binary forms are both the label.
            Self::from_sql(ty, raw)
        }

        fn accepts(ty: &#apg::types::Type) -> bool {
            #named
                && ::core::matches!(ty.kind(), #apg::types::Kind::Enum(_))
        }
    }
}

/// Checks a composite type's description against the Rust fields: every Rust field is
/// one of the type's, and the type has no other. Binds `fields`.
fn check_fields(apg: &Path, names: &[&String]) -> TokenStream {
    let count = names.len();
    let missing = custom(
        apg,
        quote!(
            "composite type {} has no field {:?}, which Rust type {} has",
            ty,
            name,
            ::core::any::type_name::<Self>()
        ),
    );
    let extra = custom(
        apg,
        quote!(
            "composite type {} has {} fields, Rust type {} has {}: {}",
            ty,
            fields.len(),
            ::core::any::type_name::<Self>(),
            #count,
            fields
                .iter()
                .map(|f| f.name())
                .filter(|n| ![#(#names),*].contains(n))
                .collect::<::std::vec::Vec<_>>()
                .join(", ")
        ),
    );
    quote! {
        for name in [#(#names),*] {
            if !fields.iter().any(|f| f.name() == name) {
                return ::core::result::Result::Err(#missing);
            }
        }
        // Every Rust field's name is there (and they are distinct): any more fields
        // are ones the Rust type lacks.
        if fields.len() != #count {
            return ::core::result::Result::Err(#extra);
        }
    }
}

fn field_context(apg: &Path) -> TokenStream {
    custom(
        apg,
        quote!("field {:?} of composite type {}: {}", name, ty, e),
    )
}

fn to_sql_composite(
    apg: &Path,
    fields: &[(Ident, Type, String)],
    named: &TokenStream,
) -> TokenStream {
    let names: Vec<&String> = fields.iter().map(|(_, _, name)| name).collect();
    let check = check_fields(apg, &names);
    let context = field_context(apg);
    let described = fields.iter().map(|(ident, _, name)| {
        quote! {
            #name => writer.field(&self.#ident, field.type_()),
        }
    });
    let unreachable = custom(
        apg,
        quote!("composite type {} has an unexpected field {:?}", ty, name),
    );
    quote! {
        fn to_sql(
            &self,
            ty: &#apg::types::Type,
            out: &mut #apg::types::BytesMut,
        ) -> ::core::result::Result<#apg::types::IsNull, #apg::types::ValueError> {
            match ty.kind() {
                #apg::types::Kind::Composite(fields) => {
                    #check
                    let mut writer = #apg::types::CompositeWriter::new(out);
                    // In the type's order, each field as the type's field is declared.
                    for field in fields.iter() {
                        let name = field.name();
                        match name {
                            #(#described)*
                            _ => ::core::result::Result::Err(#unreachable),
                        }
                        .map_err(|e| #context)?;
                    }
                    writer.finish();
                }
                _ => {
                    // Not described: the order of the type's fields is unknown, and
                    // the server checks only each field's type, so fields of one type
                    // could be swapped silently. (The client describes a statement's
                    // parameters before sending a value that cannot name its type.)
                    return ::core::result::Result::Err(#apg::types::ValueError::Custom(
                        ::std::format!(
                            "composite type {} is not described: the order of its fields is unknown",
                            ty
                        )
                        .into_boxed_str(),
                    ));
                }
            }
            ::core::result::Result::Ok(#apg::types::IsNull::No)
        }

        fn accepts(ty: &#apg::types::Type) -> bool {
            *ty == #apg::types::Type::UNSPECIFIED
                || (#named
                    && ::core::matches!(ty.kind(), #apg::types::Kind::Composite(_)))
        }

        fn natural_type() -> #apg::types::Type {
            #apg::types::Type::UNSPECIFIED
        }
    }
}

fn from_sql_composite(
    apg: &Path,
    fields: &[(Ident, Type, String)],
    named: &TokenStream,
    lt: &Lifetime,
) -> TokenStream {
    let names: Vec<&String> = fields.iter().map(|(_, _, name)| name).collect();
    let check = check_fields(apg, &names);
    let context = field_context(apg);
    let slots: Vec<Ident> = (0..fields.len())
        .map(|i| Ident::new(&format!("__apg_field_{i}"), Span::call_site()))
        .collect();
    let declare = fields.iter().zip(&slots).map(|((_, ty, _), slot)| {
        quote!(let mut #slot: ::core::option::Option<#ty> = ::core::option::Option::None;)
    });
    let read = fields.iter().zip(&slots).map(|((_, ty, name), slot)| {
        quote! {
            #name => {
                #slot = ::core::option::Option::Some(
                    reader.read::<#ty>(field.type_()).map_err(|e| #context)?,
                );
            }
        }
    });
    let missing = custom(apg, quote!("composite type {} has no field {:?}", ty, name));
    let build = fields.iter().zip(&slots).map(|((ident, _, name), slot)| {
        quote! {
            #ident: match #slot {
                ::core::option::Option::Some(value) => value,
                ::core::option::Option::None => {
                    let name = #name;
                    return ::core::result::Result::Err(#missing);
                }
            }
        }
    });
    let unreachable = custom(
        apg,
        quote!("composite type {} has an unexpected field {:?}", ty, name),
    );
    quote! {
        fn from_sql(
            ty: &#apg::types::Type,
            raw: &#lt [u8],
        ) -> ::core::result::Result<Self, #apg::types::ValueError> {
            let #apg::types::Kind::Composite(fields) = ty.kind() else {
                return ::core::result::Result::Err(
                    #apg::types::ValueError::wrong_type::<Self>(ty),
                );
            };
            #check
            let mut reader = #apg::types::CompositeReader::new(ty, raw)?;
            #(#declare)*
            for field in fields.iter() {
                let name = field.name();
                match name {
                    #(#read)*
                    _ => return ::core::result::Result::Err(#unreachable),
                }
            }
            reader.finish()?;
            ::core::result::Result::Ok(Self { #(#build,)* })
        }

        fn accepts(ty: &#apg::types::Type) -> bool {
            #named
                && ::core::matches!(ty.kind(), #apg::types::Kind::Composite(_))
        }
    }
}

fn to_sql_newtype(apg: &Path, inner: &Type) -> TokenStream {
    quote! {
        fn to_sql(
            &self,
            ty: &#apg::types::Type,
            out: &mut #apg::types::BytesMut,
        ) -> ::core::result::Result<#apg::types::IsNull, #apg::types::ValueError> {
            <#inner as #apg::types::ToSql>::to_sql(&self.0, ty, out)
        }

        fn accepts(ty: &#apg::types::Type) -> bool {
            <#inner as #apg::types::ToSql>::accepts(ty)
        }

        fn natural_type() -> #apg::types::Type {
            <#inner as #apg::types::ToSql>::natural_type()
        }
    }
}

fn from_sql_newtype(apg: &Path, inner: &Type, lt: &Lifetime) -> TokenStream {
    quote! {
        fn from_sql(
            ty: &#apg::types::Type,
            raw: &#lt [u8],
        ) -> ::core::result::Result<Self, #apg::types::ValueError> {
            <#inner as #apg::types::FromSql<#lt>>::from_sql(ty, raw).map(Self)
        }

        fn from_sql_text(
            ty: &#apg::types::Type,
            raw: &#lt [u8],
        ) -> ::core::result::Result<Self, #apg::types::ValueError> {
            <#inner as #apg::types::FromSql<#lt>>::from_sql_text(ty, raw).map(Self)
        }

        fn from_sql_null(
            ty: &#apg::types::Type,
        ) -> ::core::result::Result<Self, #apg::types::ValueError> {
            <#inner as #apg::types::FromSql<#lt>>::from_sql_null(ty).map(Self)
        }

        fn accepts(ty: &#apg::types::Type) -> bool {
            <#inner as #apg::types::FromSql<#lt>>::accepts(ty)
        }
    }
}
