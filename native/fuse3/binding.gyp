# Our libfuse 3 addon. Linux: libfuse3-dev through pkg-config.
# macOS: macFUSE 4.10 and later ship libfuse 3 (fuse3.pc, /usr/local/include/fuse3,
# libfuse3.4.dylib); FUSE-T offers only libfuse 2, so there the daemon uses fuse-native.
# The macOS branch has not been built or tried here (no Mac): see docs/macos.md.
{
  "targets": [
    {
      "target_name": "vmdk_fuse3",
      "sources": ["vmdk_fuse3.c"],
      "conditions": [
        [
          "OS=='mac'",
          {
            "xcode_settings": {
              "GCC_C_LANGUAGE_STANDARD": "gnu11",
              "MACOSX_DEPLOYMENT_TARGET": "11.0",
              "OTHER_CFLAGS": [
                "-Wall",
                "-Wextra",
                "-O2",
                "<!@(pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/local/include/fuse3)"
              ],
              "OTHER_LDFLAGS": [
                "<!@(pkg-config --libs fuse3 2>/dev/null || echo -L/usr/local/lib -lfuse3)",
                "-Wl,-rpath,/usr/local/lib"
              ]
            }
          },
          {
            "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2", "<!@(pkg-config --cflags fuse3)"],
            "libraries": ["<!@(pkg-config --libs fuse3)"]
          }
        ]
      ]
    }
  ]
}
