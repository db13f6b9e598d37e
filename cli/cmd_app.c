/* placeholder until the command lands; replaced by its owner */
#include "cmd.h"
#include <stdio.h>
int cmd_app_server(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("berth: app_server is not built yet\n", stderr);
    return 1;
}
int cmd_app_client(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("berth: app_client is not built yet\n", stderr);
    return 1;
}
