//! zkVM provers for paas-core (native and SP1). Work in progress: see issue 5.
