/* placeholder until the command lands; replaced by its owner */
#include "cmd.h"
#include <stdio.h>
int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("berth: serve is not built yet\n", stderr);
    return 1;
}
