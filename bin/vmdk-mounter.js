#!/usr/bin/env node
// Entry of the `vmdk-mounter` command in a checkout (after `npm run build`) and in packages.
import '../dist/cli/main.js';
