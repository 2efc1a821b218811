/* libFuzzer target: lab_parse_string on arbitrary bytes.  Every input must either parse (and
 * then free cleanly) or produce a well-formed error: "FILE:LINE:COL: message" lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';  /* the parser reads a C string: input stops at the first NUL */
	struct lab *lab = NULL;
	struct lc_err e = {0};
	char *all = NULL;
	int rc = lab_parse_string_errs("fuzz.lab", text, &lab, &e, &all);
	if (rc == 0) {
		if (!lab || lab->nhosts < 1)
			abort();
		/* touch what the runner will use */
		for (int i = 0; i < lab->nsteps; i++)
			if (lab->steps[i].host >= lab->nhosts)
				abort();
		for (int i = 0; i < lab->nlinks; i++) {
			struct lab_addr a;
			(void)lab_host_addr_toward(lab, lab->links[i].a, lab->links[i].b, 0, &a);
		}
		lab_free(lab);
	} else {
		if (lab || !all || strncmp(e.msg, "fuzz.lab:", 9))
			abort();
		free(all);
	}
	free(text);
	return 0;
}
