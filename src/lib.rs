pub use msrp_reference;
