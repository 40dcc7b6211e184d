{
  "targets": [
    {
      "target_name": "x0tta6bl4_pqc",
      "includes": ["csrc/sources.gypi"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: an error raised in a call that a worker_thread's
      # termination interrupts can no longer be thrown into JavaScript; it is dropped instead of
      # escaping a C callback into std::terminate (which takes the whole process down).
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-Wall", "-Wextra",
                    "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-O2"],
      "ldflags": ["-Wl,-z,relro,-z,now", "-Wl,-z,noexecstack"],
      "libraries": ["-ldl"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CFLAGS": ["-fvisibility=hidden"]
      }
    }
  ]
}
