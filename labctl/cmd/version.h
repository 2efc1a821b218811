/* labctl's version: the Makefile's VERSION and, in a git checkout, `git describe`.  Only
 * version.c is compiled with it, so a new commit recompiles one file. */
#ifndef LABCTL_VERSION_H
#define LABCTL_VERSION_H

extern const char labctl_version[];

#endif
