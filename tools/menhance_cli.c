/* menhance: enhance recorded music files from the command line.
 *
 * Drives the same engine with the same parameters as the LV2 plugin, synchronously (as a
 * host bouncing offline), block by block so files of any length stream through a fixed
 * amount of memory.  The engine's latency is removed: the output lines up sample for sample
 * with the input and has its exact length.  Every output (audio and spectrogram) is created
 * as a temporary file beside its target before any work, and renamed into place only when
 * complete, so a bad output path costs no processing, a failure or a fatal signal never
 * leaves a partial file, and the input is never touched. */
#include "engine/menhance.h"
#include "tools/audio_file.h"
#include "tools/audio_in.h"
#include "tools/audio_out.h"
#include "tools/cli_path.h"
#include "tools/spectrogram.h"
#include "tools/tempfile.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MENHANCE_VERSION
#define MENHANCE_VERSION "0.1"
#endif

/* Exit codes (also in --help). */
enum {
    EXIT_OK = 0,
    EXIT_FILE = 1,   /* an input could not be read, or an output not written */
    EXIT_USAGE = 2,  /* bad command line */
    EXIT_MODEL = 3,  /* --strict and the model could not be used as asked */
    EXIT_ENGINE = 4, /* the engine refused to start */
};

enum { DEFAULT_BLOCK = 1024, MAX_BLOCK = 8192, SPECTROGRAM_WIDTH = 1200, PRIME_SECONDS = 30 };
/* A log (nohup, a job scheduler) gets a progress line this often, as ffmpeg's -stats_period. */
#define DEFAULT_PROGRESS_PERIOD 10.0f

typedef struct {
    const char *output;
    const char *model_path;
    const char *spectrogram;
    int no_model, strict, quiet, linear_freq, block, mode_set, experimental_vocoder;
    int container;         /* --format: a libsndfile container, 0: none given */
    float progress_period; /* --progress: seconds between lines when stderr is no terminal */
    double noise_from[2];  /* --noise-from START-END (seconds), END 0: none */
    menhance_params params;
    /* --offline: the reference path (engine/offline.h) instead of the engine */
    int offline, engine_opt;
    menhance_offline_config off;
} cli_options;

static const char *mode_name(int mode) {
    switch (mode) {
    case MENHANCE_MODE_CLASSICAL:
        return "classical";
    case MENHANCE_MODE_MEL2MEL:
        return "mel2mel";
    case MENHANCE_MODE_MEL2MEL_VOCODER:
        return "vocoder";
    default:
        return "unknown";
    }
}

static int parse_mode(const char *s) {
    if (!strcmp(s, "classical")) return MENHANCE_MODE_CLASSICAL;
    if (!strcmp(s, "mel2mel")) return MENHANCE_MODE_MEL2MEL;
    if (!strcmp(s, "vocoder") || !strcmp(s, "diffwave") || !strcmp(s, "mel2mel-vocoder"))
        return MENHANCE_MODE_MEL2MEL_VOCODER;
    return -1;
}

static void usage(FILE *f) {
    fprintf(f,
            "Usage: menhance [OPTIONS] IN... -o OUT\n"
            "Enhance music recordings (noise, room, cheap-microphone EQ) with the menhance "
            "engine.\n"
            "\n"
            "  -o, --output PATH      output file; with several inputs (or an existing\n"
            "                         directory) a directory, created if missing, where each\n"
            "                         output keeps its input's file name.  '-' is standard\n"
            "                         output (a streamed WAV: ... -o - | sox -t wav - ...);\n"
            "                         a FIFO or device (/dev/null) is written in place, a\n"
            "                         symbolic link's target is replaced, the link kept\n"
            "  IN                     an audio file, or '-' for standard input (what can\n"
            "                         stream through a pipe: WAV, Ogg, AU; FLAC needs a file)\n"
            "  -f, --format NAME      flac | wav (also ogg, aiff, w64, caf): the container of\n"
            "                         every output in a directory and of an OUT without an\n"
            "                         extension.  Without it, outputs keep their input's\n"
            "                         container where it can be written and are FLAC (.flac)\n"
            "                         where it cannot (MP3, Opus, M4A/AAC, AMR, video)\n"
            "  -m, --mode NAME        classical | mel2mel | vocoder (default: the plugin's)\n"
            "      --amount X         dry/wet, 0..1\n"
            "      --hiband X         high band above 8 kHz: 0 removes it, 1 keeps it denoised\n"
            "      --strength X       classical suppression strength, 0..2\n"
            "      --max-atten DB     deepest cut, classical and model, 0..40 dB\n"
            "      --noise X          model: how much of the noise to remove, 0..2 (1 as\n"
            "                         trained, 0 leaves the noise, 2 goes further)\n"
            "      --room X           model: how much of the room's late reverberation, 0..2\n"
            "      --tone X           model: how much of the colouration (cheap microphone,\n"
            "                         phone, EQ) to undo, 0..2\n"
            "      --noise-from A-B   learn the noise floor from seconds A to B (at least 1 s;\n"
            "                         the room tone before the music) of each input file and\n"
            "                         hold it: the suppressor and the model's floor input stay\n"
            "                         there instead of following the music (the plugin's Learn\n"
            "                         noise).  Reads the input twice: a file, not a pipe\n"
            "      --listen-removed   write what the processing takes away (input minus\n"
            "                         enhanced) instead of the enhanced signal\n"
            "      --no-limiter       let peaks through: the output limiter is on by default\n"
            "                         (true peaks under -1 dBTP; offline, the whole output is\n"
            "                         lowered to a -1 dBFS peak when it would exceed it)\n"
            "      --model PATH       model file (default: the shipped model)\n"
            "      --no-model         classical mode only; load no model\n"
            "      --strict           fail (exit 3) instead of falling back: to classical when\n"
            "                         the model cannot be loaded, to mel2mel or Griffin-Lim\n"
            "                         when there is no vocoder or it has not passed its\n"
            "                         quality gate\n"
            "      --experimental-vocoder  run a DiffWave vocoder that has not passed its\n"
            "                         quality gate (else: mel2mel live, Griffin-Lim offline)\n"
            "      --spectrogram PNG  write a before/after spectrogram; with several inputs\n"
            "                         PNG is a directory (DIR/IN.png) or a name stem\n"
            "                         (STEM-IN.png), IN being each input's file name\n"
            "      --linear           linear frequency axis in the spectrogram (default log)\n"
            "      --block N          processing block in samples, 1..%d (default %d)\n"
            "      --which-model      print the default model's path and exit (1: none found)\n"
            "      --progress S       when standard error is not a terminal (a log, nohup),\n"
            "                         a progress line every S seconds (default %g; 0: none)\n"
            "\n"
            "Offline reference path (the reference system's, for comparison; not real time;\n"
            "whole file in memory):\n"
            "      --offline          Mel2Mel over the whole clip + DiffWave (or Griffin-Lim)\n"
            "                         at 16 kHz, as the reference system; the result goes\n"
            "                         into each channel at its level, above 8 kHz the input's\n"
            "                         own band (denoised)\n"
            "      --mel2mel PATH     Mel2Mel model (default: --model or the shipped model;\n"
            "                         'none': vocoder resynthesis only)\n"
            "      --vocoder PATH     DiffWave model (default: the Mel2Mel file if it holds\n"
            "                         one, else Griffin-Lim %d iterations)\n"
            "      --steps N          DiffWave steps: the training schedule's count (50,\n"
            "                         default), the fast schedule's (6), or N respaced\n"
            "      --griffin-lim N    Griffin-Lim with N iterations instead of DiffWave\n"
            "  -q, --quiet            no progress or summary, only notices, warnings, errors\n"
            "  -h, --help             this help\n"
            "  -V, --version          version\n"
            "\n"
            "Formats read: WAV, FLAC, Ogg Vorbis/Opus, AIFF, MP3, CAF, W64 and the rest of\n"
            "libsndfile's formats; M4A/AAC, raw AAC, AMR, 3GP and the audio track of video\n"
            "files (MP4, MOV, MKV, WebM) through FFmpeg.  Mono or stereo, 8-192 kHz.\n"
            "Formats written: WAV, FLAC, Ogg Vorbis, AIFF, W64, CAF, chosen by OUT's extension\n"
            "(or --format); float for float and lossy inputs (FLAC and Ogg: 24-bit, Vorbis),\n"
            "else 24-bit; a WAV that could pass 4 GiB is RF64.  The output has the input's\n"
            "length and timing (the engine's latency is removed).  Digital silence in gives\n"
            "digital silence out.  A truncated input (its header promises more than it holds)\n"
            "is processed as far as it goes, with a warning giving both lengths.\n"
            "\n"
            "Exit status: 0 success, 1 a file could not be read or written, 2 usage error,\n"
            "3 model unusable as asked with --strict, 4 engine error; 128+N when stopped by\n"
            "signal N (130: Ctrl-C), after removing its temporary files.\n",
            MAX_BLOCK, DEFAULT_BLOCK, (double)DEFAULT_PROGRESS_PERIOD,
            MENHANCE_OFFLINE_DEFAULT_GL_ITERS);
}

/* Every numeric option is checked whole: "1.5" for a count or "3x" for a level is refused
 * with the reason, never truncated or half-read. */
static int parse_float(const char *opt, const char *s, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "menhance: %s expects a number in %g..%g, got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "menhance: %s expects a whole number in %ld..%ld, got '%s'\n", opt, lo, hi,
                s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, cli_options *o, int *first_input) {
    enum {
        OPT_AMOUNT = 256,
        OPT_HIBAND,
        OPT_STRENGTH,
        OPT_MAXATT,
        OPT_NOISE,
        OPT_ROOM,
        OPT_TONE,
        OPT_LISTEN,
        OPT_MODEL,
        OPT_NOMODEL,
        OPT_STRICT,
        OPT_SPECTRO,
        OPT_LINEAR,
        OPT_BLOCK,
        OPT_WHICH,
        OPT_OFFLINE,
        OPT_MEL2MEL,
        OPT_VOCODER,
        OPT_STEPS,
        OPT_GL,
        OPT_PROGRESS,
        OPT_NOISE_FROM,
        OPT_EXPERIMENTAL,
        OPT_NOLIMITER,
    };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"mode", required_argument, NULL, 'm'},
        {"amount", required_argument, NULL, OPT_AMOUNT},
        {"hiband", required_argument, NULL, OPT_HIBAND},
        {"strength", required_argument, NULL, OPT_STRENGTH},
        {"max-atten", required_argument, NULL, OPT_MAXATT},
        {"noise", required_argument, NULL, OPT_NOISE},
        {"room", required_argument, NULL, OPT_ROOM},
        {"tone", required_argument, NULL, OPT_TONE},
        {"listen-removed", no_argument, NULL, OPT_LISTEN},
        {"model", required_argument, NULL, OPT_MODEL},
        {"no-model", no_argument, NULL, OPT_NOMODEL},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"experimental-vocoder", no_argument, NULL, OPT_EXPERIMENTAL},
        {"no-limiter", no_argument, NULL, OPT_NOLIMITER},
        {"spectrogram", required_argument, NULL, OPT_SPECTRO},
        {"linear", no_argument, NULL, OPT_LINEAR},
        {"block", required_argument, NULL, OPT_BLOCK},
        {"which-model", no_argument, NULL, OPT_WHICH},
        {"offline", no_argument, NULL, OPT_OFFLINE},
        {"mel2mel", required_argument, NULL, OPT_MEL2MEL},
        {"vocoder", required_argument, NULL, OPT_VOCODER},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"griffin-lim", required_argument, NULL, OPT_GL},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"noise-from", required_argument, NULL, OPT_NOISE_FROM},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->block = DEFAULT_BLOCK;
    o->progress_period = DEFAULT_PROGRESS_PERIOD;
    menhance_params_default(&o->params);
    int c;
    int offline_opt = 0;
    while ((c = getopt_long(argc, argv, "o:f:m:qhV", longopts, NULL)) != -1) {
        /* engine settings that mean nothing to the offline path */
        o->engine_opt |= c == 'm' || (c >= OPT_AMOUNT && c <= OPT_LISTEN) || c == OPT_NOMODEL ||
                         c == OPT_BLOCK || c == OPT_NOISE_FROM;
        offline_opt |= c >= OPT_MEL2MEL && c <= OPT_GL;
        switch (c) {
        case 'o':
            o->output = optarg;
            break;
        case 'f':
            o->container = audio_file_parse_container(optarg);
            if (!o->container) {
                fprintf(stderr,
                        "menhance: --format expects flac, wav, ogg, aiff, w64 or caf, got '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'm':
            o->params.mode = parse_mode(optarg);
            if (o->params.mode < 0) {
                fprintf(stderr, "menhance: unknown mode '%s' (classical, mel2mel, vocoder)\n",
                        optarg);
                return EXIT_USAGE;
            }
            o->mode_set = 1;
            break;
        case OPT_AMOUNT:
            if (parse_float("--amount", optarg, 0, 1, &o->params.amount)) return EXIT_USAGE;
            break;
        case OPT_HIBAND:
            if (parse_float("--hiband", optarg, 0, 1, &o->params.hiband)) return EXIT_USAGE;
            break;
        case OPT_STRENGTH:
            if (parse_float("--strength", optarg, 0, 2, &o->params.strength)) return EXIT_USAGE;
            break;
        case OPT_MAXATT:
            if (parse_float("--max-atten", optarg, 0, 40, &o->params.max_atten_db))
                return EXIT_USAGE;
            break;
        case OPT_NOISE:
            if (parse_float("--noise", optarg, 0, 2, &o->params.noise)) return EXIT_USAGE;
            break;
        case OPT_ROOM:
            if (parse_float("--room", optarg, 0, 2, &o->params.room)) return EXIT_USAGE;
            break;
        case OPT_TONE:
            if (parse_float("--tone", optarg, 0, 2, &o->params.tone)) return EXIT_USAGE;
            break;
        case OPT_LISTEN:
            o->params.listen_removed = 1;
            break;
        case OPT_MODEL:
            o->model_path = optarg;
            break;
        case OPT_NOMODEL:
            o->no_model = 1;
            break;
        case OPT_STRICT:
            o->strict = 1;
            break;
        case OPT_EXPERIMENTAL:
            o->experimental_vocoder = 1;
            break;
        case OPT_NOLIMITER:
            o->params.limiter = 0;
            o->off.keep_peaks = 1;
            break;
        case OPT_SPECTRO:
            o->spectrogram = optarg;
            break;
        case OPT_LINEAR:
            o->linear_freq = 1;
            break;
        case OPT_BLOCK:
            if (parse_int("--block", optarg, 1, MAX_BLOCK, &o->block)) return EXIT_USAGE;
            break;
        case OPT_OFFLINE:
            o->offline = 1;
            break;
        case OPT_MEL2MEL:
            o->off.mel2mel_path = optarg;
            break;
        case OPT_VOCODER:
            o->off.vocoder_path = optarg;
            break;
        case OPT_STEPS:
            if (parse_int("--steps", optarg, 1, 1000, &o->off.steps)) return EXIT_USAGE;
            break;
        case OPT_GL:
            if (parse_int("--griffin-lim", optarg, 1, 10000, &o->off.griffin_lim))
                return EXIT_USAGE;
            break;
        case OPT_WHICH: {
            char path[PATH_MAX];
            if (!menhance_default_model_path(path, sizeof path)) {
                fprintf(stderr, "menhance: no default model found\n");
                exit(EXIT_FILE);
            }
            printf("%s\n", path);
            exit(EXIT_OK);
        }
        case OPT_NOISE_FROM: {
            char *end = NULL;
            double a = strtod(optarg, &end), b = -1.0;
            if (end && *end == '-' && end != optarg) b = strtod(end + 1, &end);
            /* the engine needs 0.5 s of full analysis windows: 1 s of input leaves room */
            if (!end || *end || !(a >= 0.0) || !(b >= a + 1.0) || b > 86400.0) {
                fprintf(stderr,
                        "menhance: --noise-from expects START-END in seconds, at least "
                        "1 s apart (e.g. 0-2.5), got '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            o->noise_from[0] = a;
            o->noise_from[1] = b;
            break;
        }
        case OPT_PROGRESS:
            if (parse_float("--progress", optarg, 0.0f, 86400.0f, &o->progress_period) != 0)
                return EXIT_USAGE;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_OK);
        case 'V':
            printf("menhance %s\n", MENHANCE_VERSION);
            exit(EXIT_OK);
        default:
            fprintf(stderr, "menhance: see --help\n");
            return EXIT_USAGE;
        }
    }
    *first_input = optind;
    if (optind >= argc) {
        fprintf(stderr, "menhance: no input files (see --help)\n");
        return EXIT_USAGE;
    }
    if (!o->output) {
        fprintf(stderr, "menhance: no output given: use -o OUT (see --help)\n");
        return EXIT_USAGE;
    }
    if (o->no_model && o->model_path) {
        fprintf(stderr, "menhance: --no-model and --model contradict each other\n");
        return EXIT_USAGE;
    }
    if (o->spectrogram && !strcmp(o->spectrogram, "-") && !strcmp(o->output, "-")) {
        fprintf(stderr, "menhance: the spectrogram and the output cannot both go to standard "
                        "output\n");
        return EXIT_USAGE;
    }
    if (offline_opt && !o->offline) {
        fprintf(stderr,
                "menhance: --mel2mel, --vocoder, --steps and --griffin-lim need --offline\n");
        return EXIT_USAGE;
    }
    if (o->offline && o->engine_opt) {
        fprintf(stderr, "menhance: --offline takes no engine settings (--mode, --amount, --hiband, "
                        "--strength, --max-atten, --noise, --room, --tone, --listen-removed, "
                        "--no-model, --block, --noise-from)\n");
        return EXIT_USAGE;
    }
    if (o->off.steps && o->off.griffin_lim) {
        fprintf(stderr, "menhance: --steps (DiffWave) and --griffin-lim exclude each other\n");
        return EXIT_USAGE;
    }
    if (o->offline && o->off.griffin_lim && o->off.vocoder_path) {
        fprintf(stderr, "menhance: --vocoder and --griffin-lim exclude each other\n");
        return EXIT_USAGE;
    }
    /* --model names the file the offline path takes its networks from by default */
    if (o->offline && !o->off.mel2mel_path) o->off.mel2mel_path = o->model_path;
    o->off.experimental_vocoder = o->experimental_vocoder;
    o->off.strict = o->strict;
    if (o->no_model && o->mode_set && o->params.mode != MENHANCE_MODE_CLASSICAL) {
        fprintf(stderr, "menhance: --no-model allows only --mode classical\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The before/after PNG both paths write; labels name the files and how the output was made. */
static int write_comparison(const char *png_path, spectrogram *before, spectrogram *after,
                            const char *in_path, const char *out_path, const char *how,
                            int linear) {
    char t_before[PATH_MAX + 32], t_after[PATH_MAX + 64], err[512];
    snprintf(t_before, sizeof t_before, "BEFORE: %s", cli_path_base(in_path));
    snprintf(t_after, sizeof t_after, "AFTER: %s (%s)", cli_path_base(out_path), how);
    spectrogram_panel panels[2] = {{before, t_before}, {after, t_after}};
    if (spectrogram_write_png(png_path, panels, 2,
                              linear ? SPECTROGRAM_LINEAR_FREQ : SPECTROGRAM_LOG_FREQ, err,
                              sizeof err) != 0) {
        fprintf(stderr, "menhance: error: spectrogram: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- progress ---- */

typedef struct {
    int enabled, last;
    const char *name;
    /* stderr is no terminal: a whole line every `period` seconds instead of a redrawn bar */
    int lines;
    double period, total_s, next_s;
    struct timespec t0;
} progress;

static progress progress_start(const cli_options *o, const char *name, double total_s) {
    progress p = {.enabled = !o->quiet, .last = -1, .name = name, .total_s = total_s};
    p.lines = !isatty(STDERR_FILENO);
    p.period = o->progress_period;
    if (p.lines && p.period <= 0.0) p.enabled = 0;
    p.next_s = p.period;
    clock_gettime(CLOCK_MONOTONIC, &p.t0);
    return p;
}

static double elapsed_s(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static void progress_update(progress *p, long long done, long long total) {
    if (!p->enabled) return;
    if (p->lines) {
        double t = elapsed_s(&p->t0);
        if (t < p->next_s) return;
        p->next_s = t + p->period;
        if (total > 0) {
            double f = (double)(done > total ? total : done) / (double)total;
            fprintf(stderr, "menhance: %s: %3.0f%% (%.1f of %.1f s of audio, %.1f s elapsed)\n",
                    p->name, 100.0 * f, f * p->total_s, p->total_s, t);
        } else {
            fprintf(stderr, "menhance: %s: %.1f s elapsed\n", p->name, t);
        }
        p->last = 0;
        return;
    }
    if (total <= 0) return;
    int pct = (int)(100 * (done > total ? total : done) / total);
    if (pct == p->last) return;
    p->last = pct;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\r%-24.24s [%s] %3d%%", p->name, bar, pct);
    fflush(stderr);
}

static void progress_clear(progress *p) {
    if (p->enabled && !p->lines && p->last >= 0) fprintf(stderr, "\r%78s\r", "");
}

/* ---- one file ---- */

/* What the run needs across files: where outputs go, the model and mode, the offline path. */
typedef struct {
    int to_dir, ninputs;
    char **outputs; /* outputs claimed so far: two inputs must not write one file */
    int noutputs;
    menhance_model *model; /* the next engine's model (each engine owns its own) */
    int mode;
    char model_path[PATH_MAX];
    menhance_offline *off;
} run_state;

typedef struct {
    audio_in *in;
    audio_in_info ii;
    audio_out *out;
    SF_INFO oi;
    const char *in_path;
    char out_path[PATH_MAX], png_buf[PATH_MAX];
    const char *png_path;
    char png_tmp[PATH_MAX];
    int png_tmp_made;
    menhance *engine;
    spectrogram *before, *after;
    float *ibuf, *obuf, *plane_in[2], *plane_out[2], *mono;
    float *ahead[2]; /* the file's first PRIME_SECONDS, planar */
    long long frames, overs;
    struct timespec t0;
} job;

static void job_release(job *j) {
    audio_in_close(j->in);
    audio_out_close(j->out);
    if (j->png_tmp_made) tempfile_discard(j->png_tmp);
    menhance_destroy(j->engine);
    spectrogram_destroy(j->before);
    spectrogram_destroy(j->after);
    free(j->ibuf);
    free(j->obuf);
    free(j->mono);
    for (int c = 0; c < 2; c++) {
        free(j->plane_in[c]);
        free(j->plane_out[c]);
        free(j->ahead[c]);
    }
}

/* Formats that store integers, where samples beyond full scale are clipped (and counted). */
static int format_is_integer(int format) {
    int sub = format & SF_FORMAT_SUBMASK;
    return sub != SF_FORMAT_FLOAT && sub != SF_FORMAT_DOUBLE && sub != SF_FORMAT_VORBIS;
}

static void downmix(const float *const *planes, int ch, int n, float *mono) {
    if (ch == 1) {
        memcpy(mono, planes[0], (size_t)n * sizeof *mono);
        return;
    }
    for (int i = 0; i < n; i++)
        mono[i] = 0.5f * (planes[0][i] + planes[1][i]);
}

static int claim_output(run_state *rs, const char *path) {
    for (int k = 0; k < rs->noutputs; k++)
        if (!strcmp(rs->outputs[k], path)) return -1;
    char *copy = strdup(path);
    if (copy) rs->outputs[rs->noutputs++] = copy;
    return 0;
}

/* Opens the input and decides every output path and format, then creates the temporary
 * outputs (audio and spectrogram): a path that cannot be written fails here, before any
 * work.  Returns an exit code. */
static int job_open(const cli_options *o, run_state *rs, const char *in_path, job *j) {
    char err[PATH_MAX + 512], name[PATH_MAX];
    clock_gettime(CLOCK_MONOTONIC, &j->t0);
    j->in_path = in_path;
    j->in = audio_in_open(in_path, &j->ii, err, sizeof err);
    if (!j->in) {
        fprintf(stderr, "menhance: error: %s\n", err);
        return EXIT_FILE;
    }
    if (j->ii.declared_frames > j->ii.frames)
        fprintf(stderr,
                "menhance: warning: %s: truncated: its header says %.2f s, the file holds %.2f s; "
                "processing what is there\n",
                in_path, (double)j->ii.declared_frames / j->ii.rate,
                (double)j->ii.frames / j->ii.rate);
    if (!rs->to_dir) {
        snprintf(j->out_path, sizeof j->out_path, "%s", o->output);
    } else if (audio_file_output_name(in_path, &j->ii, o->container, name, sizeof name) != 0 ||
               cli_path_join(j->out_path, sizeof j->out_path, o->output, name) != 0) {
        fprintf(stderr, "menhance: error: %s: output path too long\n", in_path);
        return EXIT_FILE;
    }
    if (claim_output(rs, j->out_path) != 0) {
        fprintf(stderr, "menhance: error: %s: another input is also written to %s\n", in_path,
                j->out_path);
        return EXIT_FILE;
    }
    if (o->spectrogram) {
        if (rs->ninputs == 1) {
            j->png_path = o->spectrogram;
        } else if (cli_path_spectrogram(o->spectrogram, in_path, j->png_buf, sizeof j->png_buf) ==
                   0) {
            j->png_path = j->png_buf;
        } else {
            fprintf(stderr, "menhance: error: %s: bad spectrogram path\n", o->spectrogram);
            return EXIT_FILE;
        }
    }
    if (audio_file_same(in_path, j->out_path) ||
        (j->png_path && audio_file_same(in_path, j->png_path))) {
        fprintf(stderr, "menhance: error: %s: refusing to overwrite the input\n", in_path);
        return EXIT_FILE;
    }
    if (j->png_path && !strcmp(j->png_path, j->out_path)) {
        fprintf(stderr, "menhance: error: the spectrogram and the output are both %s\n",
                j->out_path);
        return EXIT_FILE;
    }
    const int streams = audio_out_streams(j->out_path, err, sizeof err);
    if (streams < 0) {
        fprintf(stderr, "menhance: error: %s\n", err);
        return EXIT_FILE;
    }
    j->oi = (SF_INFO){.samplerate = j->ii.rate, .channels = j->ii.channels};
    /* a stream (standard output, a FIFO, /dev/null) is WAV unless --format or a name says */
    const int container = o->container ? o->container : streams ? SF_FORMAT_WAV : 0;
    /* a stream's name (a FIFO's "x.fifo") names no format unless it is a container's */
    const char *fmt_path =
        streams && !audio_file_container_of(j->out_path, NULL) ? "-" : j->out_path;
    if (audio_file_output_format(fmt_path, &j->ii, container, &j->oi.format, err, sizeof err) !=
        0) {
        fprintf(stderr, "menhance: error: %s\n", err);
        return EXIT_FILE;
    }
    /* libsndfile's counts are exact; FFmpeg's may be estimates, and a pipe has none */
    const long long expected = j->ii.sf_format ? j->ii.frames : 0;
    if (!(j->out = audio_out_open(j->out_path, &j->oi, expected, j->ii.frames, err, sizeof err))) {
        fprintf(stderr, "menhance: error: %s\n", err);
        return EXIT_FILE;
    }
    if (j->png_path) {
        int fd = tempfile_create(j->png_path, j->png_tmp, sizeof j->png_tmp);
        if (fd < 0) {
            fprintf(stderr, "menhance: error: %s: cannot write (%s)\n", j->png_path,
                    strerror(errno));
            return EXIT_FILE;
        }
        j->png_tmp_made = 1;
        close(fd);
    }
    return EXIT_OK;
}

/* Finishes the audio, renders the spectrogram, then renames both into place. */
static int job_commit(const cli_options *o, job *j, const char *how) {
    if (j->overs)
        fprintf(stderr, "menhance: warning: %s: %lld samples above full scale were clipped\n",
                j->out_path, j->overs);
    if (j->png_path) {
        spectrogram_finish(j->before);
        spectrogram_finish(j->after);
        if (write_comparison(j->png_tmp, j->before, j->after, j->in_path, j->out_path, how,
                             o->linear_freq) != 0)
            return EXIT_FILE;
    }
    char err[PATH_MAX + 256];
    if (audio_out_commit(j->out, err, sizeof err) != 0) {
        fprintf(stderr, "menhance: error: %s\n", err);
        return EXIT_FILE;
    }
    if (j->png_path) {
        if (tempfile_commit(j->png_tmp, j->png_path) != 0) {
            fprintf(stderr, "menhance: error: %s: %s\n", j->png_path, strerror(errno));
            return EXIT_FILE;
        }
        j->png_tmp_made = 0;
    }
    long long damaged = audio_in_damaged(j->in);
    if (damaged)
        fprintf(stderr, "menhance: warning: %s: %lld damaged packets were skipped\n", j->in_path,
                damaged);
    if (!o->quiet) {
        double secs = (double)j->frames / j->ii.rate, wall = elapsed_s(&j->t0);
        fprintf(stderr, "menhance: %s (%s) -> %s (%s %s, %d Hz, %s, %.2f s, %s, %.1fx real time)\n",
                j->in_path, j->ii.format,
                strcmp(j->out_path, "-") ? j->out_path : "standard output",
                audio_file_container_name(audio_out_format(j->out)),
                audio_file_sample_name(j->oi.format), j->ii.rate,
                j->ii.channels == 1 ? "mono" : "stereo", secs, how, wall > 0 ? secs / wall : 0.0);
        if (j->png_path) fprintf(stderr, "menhance: spectrogram -> %s\n", j->png_path);
    }
    return EXIT_OK;
}

/* Reads up to `limit` frames ahead into j->ahead (planar, grown as needed).  Returns the
 * number read, or -1 (read error or memory, reported). */
static long long read_ahead(job *j, long long limit, int block) {
    const int ch = j->ii.channels;
    long long n = 0, cap = 0;
    for (;;) {
        if (n + block > cap && cap < limit) {
            long long want = cap ? 2 * cap : 16LL * block;
            if (want > limit) want = limit;
            for (int c = 0; c < ch; c++) {
                float *t = realloc(j->ahead[c], sizeof *t * (size_t)want);
                if (!t) {
                    fprintf(stderr, "menhance: error: out of memory\n");
                    return -1;
                }
                j->ahead[c] = t;
            }
            cap = want;
        }
        long take = (long)(cap - n < block ? cap - n : block);
        long got = take > 0 ? audio_in_read(j->in, j->ibuf, take) : 0;
        if (got < 0) {
            fprintf(stderr, "menhance: error: %s: read failed (%s)\n", j->in_path,
                    audio_in_error(j->in));
            return -1;
        }
        if (got == 0) return n;
        for (int c = 0; c < ch; c++)
            for (long i = 0; i < got; i++)
                j->ahead[c][n + i] = j->ibuf[i * ch + c];
        n += got;
    }
}

/* --noise-from: a first pass over the input up to END with Learn noise on from START, then the
 * engine is reset (its audio history, not the held floor) for the real pass.  Returns an exit
 * code. */
static int learn_noise_pass(const cli_options *o, job *j, menhance_params p, int block) {
    const int ch = j->ii.channels, rate = j->ii.rate;
    const long long a = (long long)(o->noise_from[0] * rate + 0.5),
                    b = (long long)(o->noise_from[1] * rate + 0.5);
    struct stat st;
    if (!strcmp(j->in_path, "-") || stat(j->in_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr,
                "menhance: error: %s: --noise-from reads the input twice: it needs a regular "
                "file, not standard input or a pipe\n",
                j->in_path);
        return EXIT_USAGE;
    }
    if (j->ii.frames > 0 && b > j->ii.frames) {
        fprintf(
            stderr,
            "menhance: error: %s: --noise-from %g-%g runs past the end: the input is %.2f s long\n",
            j->in_path, o->noise_from[0], o->noise_from[1], (double)j->ii.frames / rate);
        return EXIT_USAGE;
    }
    char err[PATH_MAX + 512];
    audio_in_info ii;
    audio_in *in = audio_in_open(j->in_path, &ii, err, sizeof err);
    float *buf = malloc((size_t)block * ch * sizeof *buf), *pl[2] = {NULL, NULL},
          *po[2] = {NULL, NULL};
    int rc = in && buf ? EXIT_OK : EXIT_FILE;
    for (int c = 0; c < ch && rc == EXIT_OK; c++) {
        pl[c] = calloc((size_t)block, sizeof(float));
        po[c] = calloc((size_t)block, sizeof(float));
        if (!pl[c] || !po[c]) rc = EXIT_FILE;
    }
    const long long tail = menhance_latency(j->engine) + 2 * block;
    long long pos = 0;
    while (rc == EXIT_OK && pos < b + tail) {
        long n = block;
        if (pos < b) {
            if (b - pos < n) n = (long)(b - pos);
            if (a > pos && a - pos < n) n = (long)(a - pos); /* the switch at START exactly */
            long got = audio_in_read(in, buf, n);
            if (got < n) {
                fprintf(stderr, "menhance: error: %s: --noise-from: the input ends at %.2f s\n",
                        j->in_path, (double)(pos + (got > 0 ? got : 0)) / rate);
                rc = EXIT_USAGE;
                break;
            }
            for (int c = 0; c < ch; c++)
                for (long i = 0; i < n; i++)
                    pl[c][i] = buf[i * ch + c];
        } else {
            for (int c = 0; c < ch; c++)
                memset(pl[c], 0, sizeof(float) * (size_t)block); /* closes the learning turn */
        }
        int on = pos >= a && pos < b;
        if (on != p.learn_noise) {
            p.learn_noise = on;
            menhance_set_params(j->engine, &p);
        }
        menhance_process(j->engine, (const float *const *)pl, po, (int)n);
        pos += n;
    }
    if (!in) fprintf(stderr, "menhance: error: %s\n", err);
    if (rc == EXIT_OK && !menhance_get_noise_profile(j->engine, NULL))
        fprintf(stderr,
                "menhance: warning: %s: --noise-from %g-%g: nothing learnt (under 0.5 s of "
                "audio that is not digital silence); the noise trackers follow the input\n",
                j->in_path, o->noise_from[0], o->noise_from[1]);
    audio_in_close(in);
    free(buf);
    for (int c = 0; c < 2; c++) {
        free(pl[c]);
        free(po[c]);
    }
    p.learn_noise = 0;
    menhance_set_params(j->engine, &p);
    menhance_reset(j->engine); /* the held floor stays */
    /* ... but not a Tone verdict of the room tone learnt from (a reset keeps a warmed-up live
     * verdict as the stand-in for the next start: the music's own comes from priming) */
    menhance_set_tone_profile(j->engine, NULL);
    return rc;
}

/* Streams one file through a fresh engine.  Hands rs->model to it (then clears it: the
 * engine owns and frees it).  Returns an exit code. */
static int run_live(const cli_options *o, run_state *rs, job *j) {
    char err[512];
    const int ch = j->ii.channels, block = o->block;
    menhance_config cfg = {.sample_rate = j->ii.rate,
                           .channels = ch,
                           .max_block = block,
                           .nominal_block = block,
                           .threaded = 0};
    j->engine = menhance_create(&cfg, rs->model, err, sizeof err);
    if (!j->engine) {
        /* The model is still ours (header contract): the next file or the exit takes it. */
        fprintf(stderr, "menhance: error: %s: engine: %s\n", j->in_path, err);
        return EXIT_ENGINE;
    }
    rs->model = NULL; /* the engine owns it from here */
    menhance_params p = o->params;
    p.mode = rs->mode;
    p.enabled = 1;
    p.synchronous = 1;
    menhance_set_params(j->engine, &p);
    /* Start at the requested settings rather than ramping to them from the defaults over
     * the file's first milliseconds (no worker thread: reset is safe here). */
    menhance_reset(j->engine);
    if (o->noise_from[1] > 0.0) {
        int rc = learn_noise_pass(o, j, p, block);
        if (rc != EXIT_OK) return rc;
    }
    const long long latency = menhance_latency(j->engine);
    const int integer_out = format_is_integer(j->oi.format);

    j->ibuf = malloc((size_t)block * ch * sizeof *j->ibuf);
    j->obuf = malloc((size_t)block * ch * sizeof *j->obuf);
    j->mono = malloc((size_t)block * sizeof *j->mono);
    for (int c = 0; c < ch; c++) {
        j->plane_in[c] = malloc((size_t)block * sizeof(float));
        j->plane_out[c] = malloc((size_t)block * sizeof(float));
        if (!j->plane_in[c] || !j->plane_out[c]) goto oom;
    }
    if (!j->ibuf || !j->obuf || !j->mono) goto oom;
    if (j->png_path) {
        j->before = spectrogram_create(j->ii.rate, j->ii.frames, SPECTROGRAM_WIDTH);
        j->after = spectrogram_create(j->ii.rate, j->ii.frames, SPECTROGRAM_WIDTH);
        if (!j->before || !j->after) goto oom;
    }
    /* A file tool can look ahead: the first PRIME_SECONDS teach the classical noise trackers
     * the file's noise floor, and the model's Tone head the file's colouration, before the first
     * sample is processed, so its start is treated like the rest (a live host's trackers must
     * learn, for about 1.5 s, and its Tone correction fade in over 4 s instead). */
    const long long ahead = read_ahead(j, (long long)PRIME_SECONDS * j->ii.rate, block);
    if (ahead < 0) return EXIT_FILE;
    if (ahead > 0 && menhance_prime(j->engine, (const float *const *)j->ahead, ahead) != 0)
        goto oom;
    progress prog = progress_start(o, cli_path_base(j->in_path), (double)j->ii.frames / j->ii.rate);
    long long read_total = 0, written = 0, to_skip = latency, tail = latency;
    int in_tail = 0;
    for (;;) {
        long n = 0;
        if (read_total < ahead) {
            n = ahead - read_total < block ? (long)(ahead - read_total) : block;
            for (int c = 0; c < ch; c++)
                memcpy(j->plane_in[c], j->ahead[c] + read_total, sizeof(float) * (size_t)n);
        } else if (!in_tail) {
            n = audio_in_read(j->in, j->ibuf, block);
            if (n < 0) {
                progress_clear(&prog);
                fprintf(stderr, "menhance: error: %s: read failed (%s)\n", j->in_path,
                        audio_in_error(j->in));
                return EXIT_FILE;
            }
            for (int c = 0; c < ch; c++)
                for (long i = 0; i < n; i++)
                    j->plane_in[c][i] = j->ibuf[i * ch + c];
        }
        if (n == 0) {
            in_tail = 1;
            /* Past the end: push the latency's worth of silence to flush the tail out. */
            if (tail == 0) break;
            n = tail < block ? (long)tail : block;
            tail -= n;
            for (int c = 0; c < ch; c++)
                memset(j->plane_in[c], 0, sizeof(float) * (size_t)n);
        } else {
            read_total += n;
        }
        menhance_process(j->engine, (const float *const *)j->plane_in, j->plane_out, (int)n);

        int skip = (int)(to_skip < n ? to_skip : n);
        to_skip -= skip;
        int keep = (int)n - skip;
        if (keep > 0) {
            for (int c = 0; c < ch; c++)
                for (int i = 0; i < keep; i++) {
                    float y = j->plane_out[c][skip + i];
                    j->overs += integer_out && fabsf(y) > 1.0f;
                    j->obuf[i * ch + c] = y;
                }
            if (audio_out_write(j->out, j->obuf, keep) != 0) {
                progress_clear(&prog);
                fprintf(stderr, "menhance: error: %s: write failed (%s)\n", j->out_path,
                        audio_out_error(j->out));
                return EXIT_FILE;
            }
            written += keep;
            if (j->after) {
                const float *planes[2] = {j->plane_out[0] + skip,
                                          ch > 1 ? j->plane_out[1] + skip : NULL};
                downmix(planes, ch, keep, j->mono);
                spectrogram_push(j->after, j->mono, keep);
            }
        }
        if (j->before && !in_tail) {
            downmix((const float *const *)j->plane_in, ch, (int)n, j->mono);
            spectrogram_push(j->before, j->mono, (int)n);
        }
        progress_update(&prog, read_total + (latency - tail), j->ii.frames + latency);
    }
    progress_clear(&prog);
    if (read_total == 0) {
        /* Nothing to enhance, and some containers (FLAC) cannot even hold an empty stream. */
        fprintf(stderr, "menhance: error: %s: contains no audio\n", j->in_path);
        return EXIT_FILE;
    }
    if (j->ii.sf_format && j->ii.frames > read_total)
        fprintf(stderr, "menhance: warning: %s: ended after %.2f s of the %.2f s it announced\n",
                j->in_path, (double)read_total / j->ii.rate, (double)j->ii.frames / j->ii.rate);
    if (written != read_total) {
        fprintf(stderr, "menhance: error: %s: wrote %lld frames for %lld\n", j->out_path, written,
                read_total);
        return EXIT_FILE;
    }
    j->frames = read_total;
    char how[32];
    snprintf(how, sizeof how, "%s mode", mode_name(rs->mode));
    return job_commit(o, j, how);
oom:
    fprintf(stderr, "menhance: error: out of memory\n");
    return EXIT_FILE;
}

/* ---- offline reference path ---- */

static void offline_progress(void *user, double fraction) {
    progress_update(user, (long long)(fraction * 1000.0), 1000);
}

/* The whole input (interleaved), however reliable the container's frame count is. */
static float *read_whole(audio_in *in, int ch, long long *frames) {
    size_t cap = 1 << 16, n = 0;
    float *x = malloc(cap * ch * sizeof *x);
    while (x) {
        if (n == cap) {
            float *t = realloc(x, 2 * cap * ch * sizeof *x);
            if (!t) break;
            x = t;
            cap *= 2;
        }
        long got = audio_in_read(in, x + n * ch, (long)(cap - n));
        if (got <= 0) {
            *frames = got < 0 ? -1 : (long long)n;
            return x;
        }
        n += (size_t)got;
    }
    free(x);
    *frames = 0;
    return NULL;
}

/* Like run_live, through the offline path (engine/offline.h) on the whole file. */
static int run_offline(const cli_options *o, run_state *rs, job *j) {
    char err[512];
    const int ch = j->ii.channels;
    long long frames = 0;
    if (!(j->ibuf = read_whole(j->in, ch, &frames))) goto oom;
    if (frames < 0) {
        fprintf(stderr, "menhance: error: %s: read failed (%s)\n", j->in_path,
                audio_in_error(j->in));
        return EXIT_FILE;
    }
    if (frames == 0) {
        fprintf(stderr, "menhance: error: %s: contains no audio\n", j->in_path);
        return EXIT_FILE;
    }
    if (!(j->obuf = malloc((size_t)frames * ch * sizeof *j->obuf))) goto oom;
    progress prog = progress_start(o, cli_path_base(j->in_path), (double)frames / j->ii.rate);
    if (menhance_offline_process(rs->off, j->ibuf, (long)frames, ch, j->ii.rate, j->obuf,
                                 offline_progress, &prog, err, sizeof err) != 0) {
        progress_clear(&prog);
        fprintf(stderr, "menhance: error: %s: %s\n", j->in_path, err);
        return EXIT_ENGINE;
    }
    progress_clear(&prog);
    double lowered = menhance_offline_ceiling_gain_db(rs->off);
    if (lowered < 0.0 && !o->quiet)
        fprintf(stderr, "menhance: %s: lowered by %.1f dB to a -1 dBFS peak\n", j->out_path,
                -lowered);
    if (format_is_integer(j->oi.format))
        for (long long i = 0; i < frames * ch; i++)
            j->overs += fabsf(j->obuf[i]) > 1.0f;
    if (audio_out_write(j->out, j->obuf, (long)frames) != 0) {
        fprintf(stderr, "menhance: error: %s: write failed (%s)\n", j->out_path,
                audio_out_error(j->out));
        return EXIT_FILE;
    }
    if (j->png_path) {
        j->before = spectrogram_create(j->ii.rate, frames, SPECTROGRAM_WIDTH);
        j->after = spectrogram_create(j->ii.rate, frames, SPECTROGRAM_WIDTH);
        if (!j->before || !j->after || !(j->mono = malloc((size_t)frames * sizeof *j->mono)))
            goto oom;
        for (int k = 0; k < 2; k++) {
            const float *src = k ? j->obuf : j->ibuf;
            for (long long i = 0; i < frames; i++)
                j->mono[i] = ch == 1 ? src[i] : 0.5f * (src[2 * i] + src[2 * i + 1]);
            spectrogram_push(k ? j->after : j->before, j->mono, (int)frames);
        }
    }
    j->frames = frames;
    return job_commit(o, j, "offline");
oom:
    fprintf(stderr, "menhance: error: out of memory\n");
    return EXIT_FILE;
}

static int process_input(const cli_options *o, run_state *rs, const char *in_path) {
    job j = {0};
    int rc = job_open(o, rs, in_path, &j);
    if (rc == EXIT_OK && !rs->off && rs->mode != MENHANCE_MODE_CLASSICAL && !rs->model) {
        char err[512];
        rs->model = menhance_model_load(rs->model_path, err, sizeof err);
        if (!rs->model) {
            fprintf(stderr, "menhance: error: %s\n", err);
            rc = o->strict ? EXIT_MODEL : EXIT_FILE;
        }
    }
    if (rc == EXIT_OK) rc = rs->off ? run_offline(o, rs, &j) : run_live(o, rs, &j);
    job_release(&j);
    return rc;
}

/* ---- model ---- */

/* Which model file the mode needs (NULL for classical); writes a reason into err when none. */
static const char *model_path_for(const cli_options *o, int mode, char *buf, size_t len, char *err,
                                  size_t errlen) {
    if (mode == MENHANCE_MODE_CLASSICAL) return NULL;
    if (o->model_path) return o->model_path;
    if (menhance_default_model_path(buf, len)) return buf;
    snprintf(err, errlen, "no model file found (set MENHANCE_MODEL_DIR or use --model)");
    return NULL;
}

/* The vocoder mode only runs a vocoder that exists and has passed its quality gate (unless
 * --experimental-vocoder); otherwise mel2mel, with a notice, or an error with --strict. */
static int check_vocoder(const cli_options *o, const menhance_model *model, const char *path,
                         int *mode) {
    if (*mode != MENHANCE_MODE_MEL2MEL_VOCODER) return EXIT_OK;
    const char *why = NULL, *hint = "";
    if (!menhance_model_has_vocoder(model)) {
        why = "has no vocoder";
    } else if (!o->experimental_vocoder && !menhance_vocoder_gate_passed(path)) {
        why = "its vocoder has not passed its quality gate";
        hint = " (--experimental-vocoder runs it)";
    }
    if (!why) return EXIT_OK;
    if (o->strict) {
        fprintf(stderr, "menhance: error: %s: %s; --strict refuses the fallback to mel2mel%s\n",
                path, why, hint);
        return EXIT_MODEL;
    }
    fprintf(stderr, "menhance: notice: %s: %s; running mel2mel (mode 1) instead%s\n", path, why,
            hint);
    *mode = MENHANCE_MODE_MEL2MEL;
    return EXIT_OK;
}

/* Decides the mode for the whole run and loads the first model.  Mirrors the plugin: a
 * missing or broken model falls back to the classical mode with a warning (unless
 * --strict).  The engine takes ownership of the model it is given and a model's streaming
 * state serves one engine, so later files load their own copy. */
static int prepare_model(const cli_options *o, run_state *rs) {
    rs->model = NULL;
    rs->mode = o->no_model ? MENHANCE_MODE_CLASSICAL : o->params.mode;
    if (rs->mode == MENHANCE_MODE_CLASSICAL) return EXIT_OK;
    char err[512] = "";
    const size_t len = sizeof rs->model_path;
    const char *path = model_path_for(o, rs->mode, rs->model_path, len, err, sizeof err);
    if (path) {
        if (path != rs->model_path) snprintf(rs->model_path, len, "%s", path);
        rs->model = menhance_model_load(rs->model_path, err, sizeof err);
    }
    if (rs->model) {
        if (!o->quiet)
            fprintf(stderr, "menhance: model %s (%s)\n", rs->model_path,
                    menhance_model_describe(rs->model));
        return check_vocoder(o, rs->model, rs->model_path, &rs->mode);
    }
    /* err names the path once, with the reason (menhance_model_load) */
    if (o->strict) {
        fprintf(stderr, "menhance: error: %s\n", err);
        return EXIT_MODEL;
    }
    fprintf(stderr, "menhance: warning: %s; falling back to the classical mode\n", err);
    rs->mode = MENHANCE_MODE_CLASSICAL;
    return EXIT_OK;
}

/* An OUT whose extension says one container while --format says another is a usage error
 * (for a directory, --format decides the names). */
static int check_format_conflict(const cli_options *o, int to_dir) {
    if (to_dir || !o->container) return EXIT_OK;
    int has_ext = 0, c = audio_file_container_of(o->output, &has_ext);
    if (has_ext && c != o->container) {
        fprintf(stderr, "menhance: -o %s does not end in .%s, which --format asks for\n", o->output,
                audio_file_extension(o->container));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int main(int argc, char **argv) {
    cli_options o;
    int first;
    int rc = parse_options(argc, argv, &o, &first);
    if (rc != EXIT_OK) return rc;
    run_state rs = {.ninputs = argc - first};
    char **inputs = argv + first;

    /* Where outputs go: one file, or a directory for several inputs. */
    if (!strcmp(o.output, "-") && rs.ninputs > 1) {
        fprintf(stderr, "menhance: -o - (standard output) takes one input, not %d\n", rs.ninputs);
        return EXIT_USAGE;
    }
    rs.to_dir =
        rs.ninputs > 1 || cli_path_is_directory(o.output) || cli_path_ends_with_slash(o.output);
    for (int i = 0; rs.to_dir && i < rs.ninputs; i++)
        if (!strcmp(inputs[i], "-")) {
            fprintf(stderr, "menhance: standard input (-) has no name to give an output in a "
                            "directory: use it alone with -o FILE or -o -\n");
            return EXIT_USAGE;
        }
    if ((rc = check_format_conflict(&o, rs.to_dir)) != EXIT_OK) return rc;
    if (rs.to_dir && cli_path_make_directories(o.output) != 0) {
        fprintf(stderr, "menhance: error: cannot create directory %s: %s\n", o.output,
                strerror(errno));
        return EXIT_FILE;
    }

    if (o.offline) {
        /* Networks are read-only while processing: one load serves every file. */
        char err[PATH_MAX + 512], warn[PATH_MAX + 512];
        rs.off = menhance_offline_create(&o.off, err, sizeof err, warn, sizeof warn);
        if (!rs.off) {
            fprintf(stderr, "menhance: error: %s\n", err);
            return EXIT_MODEL;
        }
        if (warn[0]) fprintf(stderr, "menhance: warning: %s\n", warn);
        if (!o.quiet) fprintf(stderr, "menhance: offline: %s\n", menhance_offline_describe(rs.off));
    } else if ((rc = prepare_model(&o, &rs)) != EXIT_OK) {
        menhance_model_free(rs.model);
        return rc;
    }
    if (!(rs.outputs = calloc((size_t)rs.ninputs, sizeof *rs.outputs))) {
        fprintf(stderr, "menhance: error: out of memory\n");
        return EXIT_FILE;
    }

    tempfile_catch_signals();
    int failures = 0, worst = EXIT_OK;
    for (int i = 0; i < rs.ninputs; i++) {
        int file_rc = process_input(&o, &rs, inputs[i]);
        if (file_rc != EXIT_OK) {
            failures++;
            if (file_rc > worst) worst = file_rc;
        }
    }
    menhance_model_free(rs.model); /* one never handed to an engine */
    menhance_offline_destroy(rs.off);
    for (int i = 0; i < rs.noutputs; i++)
        free(rs.outputs[i]);
    free(rs.outputs);
    if (failures && rs.ninputs > 1)
        fprintf(stderr, "menhance: %d of %d files failed\n", failures, rs.ninputs);
    return worst;
}
