/* placeholder until the command lands; replaced by its owner */
#include "cmd.h"
#include <stdio.h>
int cmd_echo_server(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("berth: echo_server is not built yet\n", stderr);
    return 1;
}
int cmd_echo_client(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("berth: echo_client is not built yet\n", stderr);
    return 1;
}
