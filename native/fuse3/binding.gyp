{
  "targets": [
    {
      "target_name": "vmdk_fuse3",
      "sources": ["vmdk_fuse3.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2", "<!@(pkg-config --cflags fuse3)"],
      "libraries": ["<!@(pkg-config --libs fuse3)"]
    }
  ]
}
