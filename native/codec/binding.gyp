{
  "targets": [
    {
      "target_name": "vmdk_codec",
      "sources": ["vmdk_codec.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2", "<!@(pkg-config --cflags libdeflate)"],
      "libraries": ["<!@(pkg-config --libs libdeflate)"]
    }
  ]
}
