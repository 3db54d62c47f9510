/** abyss: exact training of absurdly deep residual networks on a CPU. */
package dev.abyss;
