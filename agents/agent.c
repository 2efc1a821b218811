/* labctl-agent: placeholder until the agent lands (issue 4). */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "labctl-agent: not built yet\n");
	return 2;
}
