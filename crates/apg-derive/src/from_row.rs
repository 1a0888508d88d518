//! `#[derive(FromRow)]`.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, WherePredicate};

use crate::attr::{sql_name, Container, FieldAttrs};

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let container = Container::parse(&input.attrs)?;
    let apg = container.apg();
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "FromRow can be derived for structs only (named fields by column name, tuple \
             structs by position)",
        ));
    };
    if let Some(lifetime) = input.generics.lifetimes().next() {
        return Err(syn::Error::new(
            lifetime.span(),
            "FromRow cannot borrow from the row: lifetime parameters are not supported",
        ));
    }
    let generic = input.generics.type_params().next().is_some();
    let mut bounds: Vec<WherePredicate> = Vec::new();

    let body = match &data.fields {
        Fields::Named(fields) => {
            let mut seen: HashMap<String, proc_macro2::Span> = HashMap::new();
            let mut inits = Vec::new();
            for field in &fields.named {
                let attrs = FieldAttrs::parse(&field.attrs)?;
                let ident = field
                    .ident
                    .as_ref()
                    .ok_or_else(|| syn::Error::new(field.span(), "a named field without a name"))?;
                let ty = &field.ty;
                if attrs.flatten.is_some() {
                    if generic {
                        bounds.push(syn::parse_quote!(#ty: #apg::FromRow));
                    }
                    inits.push(quote_spanned! {ty.span()=>
                        #ident: <#ty as #apg::FromRow>::from_row(row)?
                    });
                    continue;
                }
                let column = sql_name(ident, attrs.rename.as_ref(), container.rename_all);
                if let Some(_first) = seen.insert(column.clone(), ident.span()) {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("two fields read column {column:?}"),
                    ));
                }
                if generic {
                    bounds.push(
                        syn::parse_quote!(#ty: for<'__apg_row> #apg::types::FromSql<'__apg_row>),
                    );
                }
                let get = quote_spanned! {ty.span()=> row.try_get::<#ty, _>(#column)? };
                if attrs.default.is_some() {
                    if generic {
                        bounds.push(syn::parse_quote!(#ty: ::core::default::Default));
                    }
                    inits.push(quote! {
                        #ident: if row.columns().iter().any(|c| c.name() == #column) {
                            #get
                        } else {
                            <#ty as ::core::default::Default>::default()
                        }
                    });
                } else {
                    inits.push(quote! { #ident: #get });
                }
            }
            quote! { Self { #(#inits,)* } }
        }
        Fields::Unnamed(fields) => {
            let mut values = Vec::new();
            for (i, field) in fields.unnamed.iter().enumerate() {
                let attrs = FieldAttrs::parse(&field.attrs)?;
                if let Some(span) = attrs
                    .rename
                    .as_ref()
                    .map(syn::LitStr::span)
                    .or(attrs.flatten)
                    .or(attrs.default)
                {
                    return Err(syn::Error::new(
                        span,
                        "the fields of a tuple struct are read by position: they take no \
                         attributes",
                    ));
                }
                let ty = &field.ty;
                if generic {
                    bounds.push(
                        syn::parse_quote!(#ty: for<'__apg_row> #apg::types::FromSql<'__apg_row>),
                    );
                }
                values.push(quote_spanned! {ty.span()=> row.try_get::<#ty, _>(#i)? });
            }
            quote! { Self(#(#values,)*) }
        }
        Fields::Unit => {
            return Err(syn::Error::new(
                input.ident.span(),
                "FromRow cannot be derived for a unit struct: it reads no column",
            ));
        }
    };

    let ident = &input.ident;
    let mut generics = input.generics.clone();
    if !bounds.is_empty() {
        generics.make_where_clause().predicates.extend(bounds);
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #apg::FromRow for #ident #ty_generics #where_clause {
            fn from_row(row: &#apg::Row) -> ::core::result::Result<Self, #apg::Error> {
                ::core::result::Result::Ok(#body)
            }
        }
    })
}
