/* SPDX-License-Identifier: GPL-2.0-only */
/* The imastore subcommands, one function each. */
#ifndef IMASTORE_COMMANDS_H
#define IMASTORE_COMMANDS_H

/* Every subcommand: argv[0] is the command name; returns an exit code. */
int cmd_show(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_mount(int argc, char **argv);	/* the view (docs/view.md) */

#endif
