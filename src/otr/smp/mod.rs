//! The Socialist Millionaires' Protocol (spec: "Socialist Millionaires' Protocol (SMP)").
