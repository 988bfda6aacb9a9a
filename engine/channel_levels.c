/* Channel levels against the common part (see channel_levels.h). */
#include "engine/channel_levels.h"

#include <math.h>

void channel_levels(const double *ec, double em, int C, float *k, float *r) {
    double emean = 0.0;
    for (int c = 0; c < C; c++)
        emean += ec[c] / C;
    for (int c = 0; c < C; c++) {
        double kc = C == 1 ? 1.0 : sqrt((ec[c] + 1e-12) / (em + 1e-12));
        double rc = C == 1 ? 1.0 : sqrt((ec[c] + 1e-12) / (emean + 1e-12));
        if (ec[c] == 0.0) kc = rc = 0.0;
        k[c] = (float)(kc < 2.0 ? kc : 2.0);
        r[c] = (float)rc;
    }
}
