{
  "sources": [
    "addon.cc",
    "algorithm_handle.cc",
    "batch.cc",
    "kem.cc",
    "liboqs.cc",
    "sig.cc",
    "x25519.cc"
  ]
}
