/* The subcommands of `berth`.  Each takes argv with argv[0] = its own name,
 * returns the process exit status (0 ok, 1 failure, 2 usage) and prints its
 * own --help.  The front end stays thin: logic lives in the library. */
#ifndef BERTH_CMD_H
#define BERTH_CMD_H

#define BERTH_VERSION "0.3.0"

int cmd_echo_server(int argc, char **argv);
int cmd_echo_client(int argc, char **argv);
int cmd_app_server(int argc, char **argv);
int cmd_app_client(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_top(int argc, char **argv);

/* Parses a port in 0..65535; -1 if s is not one. */
int cmd_parse_port(const char *s);
/* Parses a positive integer with an optional k/M/G suffix (powers of 1024)
 * into *out; -1 if malformed. */
int cmd_parse_size(const char *s, unsigned long long *out);

/* Seconds (fractions allowed, at most a day) to milliseconds, rounded up;
 * -1 if malformed. */
int cmd_parse_seconds(const char *s);
/* Prints "berth CMD: MSG [ARG]; try 'berth CMD --help'" and returns 2. */
int cmd_usage_error(const char *cmd, const char *msg, const char *arg);
/* A value out of range, saying the range: cmd_range_error("serve",
 * "--workers", "1..256", "0") prints "berth serve: --workers must be 1..256:
 * 0; try 'berth serve --help'" and returns 2.  Ranges in use: port
 * "0..65535", seconds "0..86400" (or "0.001..86400 seconds" where 0 is not
 * allowed), sizes like "256..1M bytes". */
int cmd_range_error(const char *cmd, const char *what, const char *range, const char *arg);

struct option;
/* The default: case of a getopt_long loop whose optstring begins with ':'
 * (main() sets opterr = 0, so getopt itself prints nothing): reports what
 * getopt_long returned (c is '?' or ':') as one line naming the option --
 * "unknown option --bogus", "option --port needs a value", "option --quiet
 * takes no value", "ambiguous option --i (--index, --idle-timeout)" -- and
 * returns 2.  lopts is the same table getopt_long was given. */
int cmd_option_error(const char *cmd, const struct option *lopts, char **argv, int c);

#endif
