/** Runs as a whole: the benchmark suite and provenance (JDK, CPU, kernels, git revision). */
package dev.abyss.run;
