extern crate proc_macro;
#[proc_macro_derive(Model, attributes(model, column, relationship))]
pub fn derive_model(_i: proc_macro::TokenStream) -> proc_macro::TokenStream { proc_macro::TokenStream::new() }
